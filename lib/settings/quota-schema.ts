import { AUTH_SOURCES, type AuthSource } from "@/lib/auth-sources";
import { formatGoFloat } from "@/lib/billing/encoding";
import { isPlatform, type Platform } from "@/lib/billing/platforms";
import type { Limits } from "@/lib/billing/vocabulary";

import "@/lib/zod-jitless";

import { z } from "zod";

/**
 * Validation of quota limits, shared by the settings form (client) and the server action.
 * A limit is null (unlimited — or, in a source override, "inherit"), 0 (disabled) or a USD cap
 * that fits DECIMAL(20,10): finite, ≥ 0, < 10^10, at most 10 decimal places. Messages are error
 * codes, translated under `QuotaErrors.<code>`.
 */
export const MAX_LIMIT = 1e10;
export const MAX_DECIMALS = 10;

export { QUOTA_WINDOWS, type Limits, type QuotaWindow } from "@/lib/billing/vocabulary";
/** platform → limits, with exactly the registry's platforms as keys (built by emptyQuotaMap). */
export type QuotaMap = Record<Platform, Limits>;

/** Decimal places of a number as Go prints it (shortest round-trip form). */
export function decimalPlaces(n: number): number {
  const s = formatGoFloat(n);
  const dot = s.indexOf(".");
  return dot < 0 ? 0 : s.length - dot - 1;
}

/** One limit; -0 is normalised to 0 (Go would write "-0"). */
export const LimitSchema = z.unknown().transform((v, ctx): number | null => {
  if (v === null || v === undefined) return null; // an omitted limit means unlimited, as in the gateway
  const fail = (message: string) => {
    ctx.addIssue({ code: "custom", message });
    return z.NEVER;
  };
  if (typeof v !== "number") return fail("NOT_A_NUMBER");
  if (!Number.isFinite(v)) return fail("NOT_FINITE");
  if (v < 0) return fail("NEGATIVE");
  if (v >= MAX_LIMIT) return fail("TOO_LARGE");
  if (decimalPlaces(v) > MAX_DECIMALS) return fail("TOO_MANY_DECIMALS");
  return v === 0 ? 0 : v;
});

export const LimitsSchema = z.strictObject(
  { daily: LimitSchema, weekly: LimitSchema, monthly: LimitSchema },
  "INVALID_LIMITS",
);

/**
 * platform → limits, for the platform registry `platforms` (lib/billing/platforms.ts: the live
 * gateway's list in attached mode). Platforms outside it (including "__proto__"-style own keys,
 * which a JSON body can carry) are refused; missing platforms read as all-null. The output is
 * always a full registry map built from the registry, never from the input's keys.
 */
export function quotaMapSchema(platforms: readonly string[]) {
  return z.unknown().transform((m, ctx): QuotaMap => {
    const out = emptyQuotaMap(platforms);
    if (typeof m !== "object" || m === null || Array.isArray(m)) {
      ctx.addIssue({ code: "custom", message: "INVALID_MAP" });
      return z.NEVER;
    }
    const keys = Object.keys(m);
    if (keys.length > platforms.length) ctx.addIssue({ code: "custom", message: "TOO_MANY_PLATFORMS" });
    for (const k of keys)
      if (!isPlatform(k, platforms)) ctx.addIssue({ code: "custom", path: [k], message: "UNKNOWN_PLATFORM" });
    for (const p of platforms) {
      if (!Object.prototype.hasOwnProperty.call(m, p)) continue;
      const r = LimitsSchema.safeParse((m as Record<string, unknown>)[p]);
      if (r.success) out[p] = r.data;
      else
        for (const i of r.error.issues)
          ctx.addIssue({ code: "custom", path: [p, ...i.path.map(String)], message: i.message });
    }
    return out;
  });
}

export function sourceDefaultsSchema(platforms: readonly string[]) {
  return z.strictObject({ grantOnSignup: z.boolean("INVALID_FLAG"), overrides: quotaMapSchema(platforms) });
}

/** The whole quota-defaults form: system map, 7 sources, and the version it was loaded at. */
export function quotaDefaultsFormSchema(platforms: readonly string[]) {
  const source = sourceDefaultsSchema(platforms);
  return z.strictObject({
    version: z.string().max(128),
    system: quotaMapSchema(platforms),
    sources: z.strictObject(
      Object.fromEntries(AUTH_SOURCES.map((s) => [s, source])) as Record<AuthSource, typeof source>,
    ),
  });
}

export type QuotaDefaultsForm = z.infer<ReturnType<typeof quotaDefaultsFormSchema>>;

/** Every platform of the registry, all limits null, in registry order. */
export function emptyQuotaMap(platforms: readonly string[]): QuotaMap {
  return Object.fromEntries(platforms.map((p) => [p, { daily: null, weekly: null, monthly: null }])) as QuotaMap;
}

/**
 * A form cell's text → limit. "" → null; otherwise a plain decimal (no exponent, no sign but
 * an optional leading "-" so that it can be reported as NEGATIVE). Returns an error code for
 * anything else, so "abc" or "1e12" are reported on their cell before anything is sent.
 */
export function parseLimitInput(text: string): { ok: true; value: number | null } | { ok: false; code: string } {
  const t = text.trim();
  if (t === "") return { ok: true, value: null };
  if (!/^-?(\d+(\.\d*)?|\.\d+)$/.test(t)) return { ok: false, code: "NOT_A_NUMBER" };
  const frac = t.includes(".") ? t.slice(t.indexOf(".") + 1).length : 0;
  const v = Number(t);
  const r = LimitSchema.safeParse(v);
  if (!r.success) return { ok: false, code: r.error.issues[0].message };
  if (frac > MAX_DECIMALS) return { ok: false, code: "TOO_MANY_DECIMALS" };
  return { ok: true, value: r.data };
}
