import { AUTH_SOURCES, type AuthSource } from "@/lib/auth-sources";
import { formatGoFloat } from "@/lib/billing/encoding";
import type { Platform } from "@/lib/billing/platforms";

import { sourceQuotasKey, SYSTEM_QUOTAS_KEY } from "./keys";
import { MAX_DECIMALS, MAX_LIMIT, QUOTA_WINDOWS, type QuotaMap, type QuotaWindow } from "./quota-schema";

/**
 * What a new user from a source gets at sign-up. The sign-up snapshot (lib/users/signup.ts) and
 * the settings page's preview both use `planSignupDefaults`, so the preview is exactly the rows.
 *
 * Merge (spec §2.2/§2.5): the system value per platform and window, replaced by the source's
 * override where the source's grant-on-sign-up switch is on and the override is not null (null =
 * inherit; a source cannot turn a system cap back into "unlimited").
 *
 * Policy: never silently unlimited, never a failed sign-up.
 * - The system map (default_platform_quotas) is unreadable → every platform × window is 0
 *   (disabled; fail-closed for money), except cells that a granted source override sets.
 * - A source's override map is unreadable and its grant-on-sign-up switch is on → that source's
 *   users get 0 in every cell. We cannot know the overrides, and the system value could be looser
 *   than a lost override. The map of a source whose switch is off is never used.
 * - A stored limit that DECIMAL(20,10) cannot hold (the gateway's validation lets one through):
 *   ≥ 1e10 is clamped to 9999999999.9999999999; more than 10 decimals is rounded half-up to 10,
 *   as PostgreSQL rounds. Both are the closest the row can get to what the admin meant. A negative
 *   limit (the gateway refuses one, but someone can write it by hand) becomes 0, which blocks
 *   exactly like a negative limit would, so our billing code never sees one.
 * - Every fallback is listed in the plan. Sign-up logs the plan's fallbacks in a single
 *   console.warn that names the setting keys, and counts the sign-up in `signupDefaultsFallbacks`.
 */

/** Where a cell's value comes from: the system default or the source's override. */
export type Origin = "system" | "source";

/** The largest value of a DECIMAL(20,10) column. No float64 can hold it, hence decimal strings. */
export const MAX_ROW_LIMIT = "9999999999.9999999999";

export type ClampReason = "too_large" | "too_many_decimals" | "negative";

/** The stored defaults, as `readQuotaDefaults` returns them (a `QuotaDefaults` is one). */
export type SignupDefaultsInput = {
  /** the platform registry the maps cover, in its order: one planned row per platform */
  platforms: readonly string[];
  system: QuotaMap;
  systemUnreadable: boolean;
  sources: Record<AuthSource, { grantOnSignup: boolean; overrides: QuotaMap; unreadable: boolean }>;
};

/** One cell of the snapshot. `limit` is the decimal literal written to the row (null = unlimited). */
export type PlannedLimit = {
  limit: string | null;
  origin: Origin;
  /** the settings key the value comes from */
  key: string;
  fallback: null | "unreadable" | ClampReason;
  /** the stored value, when the planned limit differs from it because of clamping or rounding */
  stored?: number;
};

export type SignupFallback =
  | { kind: "unreadable"; key: string; cells: number }
  | {
      kind: "clamped";
      reason: ClampReason;
      key: string;
      platform: Platform;
      window: QuotaWindow;
      stored: number;
      applied: string;
    };

export type DecimalLimits = Record<QuotaWindow, string | null>;

export type SignupPlan = {
  source: AuthSource;
  /** the registry's platforms, in its order: the rows to write */
  platforms: readonly string[];
  cells: Record<Platform, Record<QuotaWindow, PlannedLimit>>;
  /** what goes into `user_platform_quotas`, one entry per registry platform */
  limits: Record<Platform, DecimalLimits>;
  fallbacks: SignupFallback[];
};

/**
 * A stored limit as the closest decimal that DECIMAL(20,10) holds, plus the reason when that
 * differs from the stored value. The digits come from Go's shortest form of the float64 (what the
 * gateway itself would send to the database).
 */
export function fitDecimal(v: number): { value: string; reason: ClampReason | null } {
  if (v < 0) return { value: "0", reason: "negative" };
  if (v >= MAX_LIMIT) return { value: MAX_ROW_LIMIT, reason: "too_large" };
  const s = formatGoFloat(v === 0 ? 0 : v); // -0 → "0"
  const dot = s.indexOf(".");
  if (dot < 0 || s.length - dot - 1 <= MAX_DECIMALS) return { value: s, reason: null };
  const int = s.slice(0, dot);
  const frac = s.slice(dot + 1);
  let scaled = BigInt(int + frac.slice(0, MAX_DECIMALS));
  if (frac.charCodeAt(MAX_DECIMALS) >= 53 /* "5" */) scaled += BigInt(1); // half-up, as numeric rounds
  const digits = scaled.toString().padStart(MAX_DECIMALS + 1, "0");
  const whole = digits.slice(0, -MAX_DECIMALS);
  if (whole.length > 10) return { value: MAX_ROW_LIMIT, reason: "too_large" };
  const fraction = digits.slice(-MAX_DECIMALS).replace(/0+$/, "");
  return { value: fraction ? `${whole}.${fraction}` : whole, reason: "too_many_decimals" };
}

/** The sign-up snapshot for a new user from `source`, with every fallback the policy applied. */
export function planSignupDefaults(input: SignupDefaultsInput, source: AuthSource): SignupPlan {
  const src = input.sources[source];
  const granted = src.grantOnSignup;
  const systemKey = SYSTEM_QUOTAS_KEY;
  const srcKey = sourceQuotasKey(source);
  const cells = {} as SignupPlan["cells"];
  const limits = {} as SignupPlan["limits"];
  const fallbacks: SignupFallback[] = [];
  const unreadableCells = new Map<string, number>();

  const fromValue = (v: number | null, origin: Origin, key: string, p: Platform, w: QuotaWindow): PlannedLimit => {
    if (v === null) return { limit: null, origin, key, fallback: null };
    const fit = fitDecimal(v);
    if (!fit.reason) return { limit: fit.value, origin, key, fallback: null };
    fallbacks.push({ kind: "clamped", reason: fit.reason, key, platform: p, window: w, stored: v, applied: fit.value });
    return { limit: fit.value, origin, key, fallback: fit.reason, stored: v };
  };
  const disabled = (origin: Origin, key: string): PlannedLimit => {
    unreadableCells.set(key, (unreadableCells.get(key) ?? 0) + 1);
    return { limit: "0", origin, key, fallback: "unreadable" };
  };

  for (const p of input.platforms) {
    cells[p] = {} as Record<QuotaWindow, PlannedLimit>;
    limits[p] = {} as DecimalLimits;
    for (const w of QUOTA_WINDOWS) {
      let cell: PlannedLimit;
      if (granted && src.unreadable) cell = disabled("source", srcKey);
      else if (granted && src.overrides[p][w] !== null) cell = fromValue(src.overrides[p][w], "source", srcKey, p, w);
      else if (input.systemUnreadable) cell = disabled("system", systemKey);
      else cell = fromValue(input.system[p][w], "system", systemKey, p, w);
      cells[p][w] = cell;
      limits[p][w] = cell.limit;
    }
  }
  const unreadable: SignupFallback[] = [...unreadableCells].map(([key, n]) => ({ kind: "unreadable", key, cells: n }));
  return { source, platforms: input.platforms, cells, limits, fallbacks: [...unreadable, ...fallbacks] };
}

export type SettingsHealthIssue =
  | { kind: "unreadable"; key: string; scope: "system" }
  | { kind: "unreadable"; key: string; scope: "source"; source: AuthSource; used: boolean }
  | Extract<SignupFallback, { kind: "clamped" }>;

/**
 * What the settings page must warn about in the stored defaults: every unreadable map (a source's
 * one is `used` only while its switch is on) and every stored value that a sign-up from some
 * source would clamp or round, once per cell.
 */
export function settingsHealth(input: SignupDefaultsInput): SettingsHealthIssue[] {
  const out: SettingsHealthIssue[] = [];
  if (input.systemUnreadable) out.push({ kind: "unreadable", key: SYSTEM_QUOTAS_KEY, scope: "system" });
  for (const s of AUTH_SOURCES) {
    const src = input.sources[s];
    if (src.unreadable)
      out.push({ kind: "unreadable", key: sourceQuotasKey(s), scope: "source", source: s, used: src.grantOnSignup });
  }
  const seen = new Set<string>();
  for (const s of AUTH_SOURCES) {
    for (const f of planSignupDefaults(input, s).fallbacks) {
      if (f.kind !== "clamped") continue;
      const id = `${f.key}.${f.platform}.${f.window}`;
      if (seen.has(id)) continue;
      seen.add(id);
      out.push(f);
    }
  }
  return out;
}

type FallbackCounts = { unreadable: number; clamped: number };
const globalForFallbacks = globalThis as unknown as { qcSignupDefaultsFallbacks?: FallbackCounts };

/**
 * Sign-ups whose snapshot used a fallback, by kind (one sign-up counts once per kind), for
 * /api/metrics. Per process; reset on restart. Kept on globalThis: the production server bundles
 * the register action and the metrics route separately, and a module object would be one per
 * bundle (the scrape read 0).
 */
export const signupDefaultsFallbacks: FallbackCounts = (globalForFallbacks.qcSignupDefaultsFallbacks ??= {
  unreadable: 0,
  clamped: 0,
});

function describeFallback(f: SignupFallback): string {
  return f.kind === "unreadable"
    ? `${f.key} is unreadable, ${f.cells} cell(s) set to 0 (disabled)`
    : `${f.key} ${f.platform}.${f.window} = ${formatGoFloat(f.stored)} does not fit DECIMAL(20,10) (${f.reason}), stored as ${f.applied}`;
}

/** Log (one line) and count the fallbacks of a committed sign-up snapshot; no-op without any. */
export function reportSignupFallbacks(
  plan: SignupPlan,
  userId: number,
  warn: (msg: string) => void = console.warn,
): void {
  if (plan.fallbacks.length === 0) return;
  if (plan.fallbacks.some((f) => f.kind === "unreadable")) signupDefaultsFallbacks.unreadable += 1;
  if (plan.fallbacks.some((f) => f.kind === "clamped")) signupDefaultsFallbacks.clamped += 1;
  warn(
    `[signup] quota defaults fallback for user ${userId} (source ${plan.source}): ${plan.fallbacks.map(describeFallback).join("; ")}`,
  );
}
