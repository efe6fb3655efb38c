import { AUTH_SOURCES, type AuthSource } from "@/lib/auth-sources";
import { isPlatform } from "@/lib/billing/platforms";
import { QUOTA_WINDOWS, type Limits, type QuotaWindow } from "@/lib/billing/vocabulary";

import { LimitSchema, type QuotaDefaultsForm, type QuotaMap } from "./quota-schema";

/**
 * Export and import of the quota defaults (issue 16): the system default and each sign-up
 * source's override map and grant switch, as one JSON document —
 *
 *   {"format":"quota-console/defaults@1",
 *    "system":{"anthropic":{"daily":10,"weekly":null,"monthly":null},…},
 *    "sources":{"email":{"grant_on_signup":true,"overrides":{…}},…}}
 *
 * (in a source's overrides null is "inherit the system value", as in the settings form). Every
 * registry platform and every source is written, in registry / source order, with no timestamp:
 * export → import → export is byte for byte the same. An import starts from the current defaults
 * and overlays what the file names — a platform or source it leaves out stays as it is (a file from
 * a console whose gateway has fewer platforms clears nothing) — and is saved as one whole replace
 * through the settings form's own path (version check: CONFLICT if the defaults changed since the
 * dry run; audited).
 */
export const DEFAULTS_FORMAT = "quota-console/defaults@1";

export type DefaultsSnapshot = {
  system: QuotaMap;
  sources: Record<AuthSource, { grantOnSignup: boolean; overrides: QuotaMap }>;
  version: string;
};

export function defaultsToJson(d: DefaultsSnapshot, platforms: readonly string[]): string {
  const map = (m: QuotaMap) => Object.fromEntries(platforms.map((p) => [p, { ...m[p] }]));
  return `${JSON.stringify(
    {
      format: DEFAULTS_FORMAT,
      system: map(d.system),
      sources: Object.fromEntries(
        AUTH_SOURCES.map((s) => [
          s,
          { grant_on_signup: d.sources[s].grantOnSignup, overrides: map(d.sources[s].overrides) },
        ]),
      ),
    },
    null,
    2,
  )}\n`;
}

export type DefaultsProblemCode =
  | "NOT_JSON"
  | "UNKNOWN_FORMAT"
  | "UNKNOWN_SOURCE"
  | "UNKNOWN_PLATFORM"
  | "INVALID_FLAG"
  | "INVALID_LIMITS"
  | "NOT_A_NUMBER"
  | "NEGATIVE"
  | "TOO_LARGE"
  | "TOO_MANY_DECIMALS";
export type DefaultsProblem = { path: string; code: DefaultsProblemCode };
/** One cell or switch the import would change: key "system" or "<source>" / "<source>.grant". */
export type DefaultsChange = {
  key: string;
  platform?: string;
  window?: QuotaWindow;
  before: number | null | boolean;
  after: number | null | boolean;
};

export type DefaultsPlan = {
  problems: DefaultsProblem[];
  changes: DefaultsChange[];
  /** the form to save (current defaults with the file over them), when there is no problem */
  form: QuotaDefaultsForm | null;
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function overlayMap(
  base: QuotaMap,
  raw: unknown,
  at: string,
  platforms: readonly string[],
  problems: DefaultsProblem[],
): QuotaMap {
  const out = Object.fromEntries(platforms.map((p) => [p, { ...base[p] }])) as QuotaMap;
  if (raw === undefined) return out;
  if (!isObject(raw)) {
    problems.push({ path: at, code: "INVALID_LIMITS" });
    return out;
  }
  for (const [p, limits] of Object.entries(raw)) {
    if (!isPlatform(p, platforms)) {
      problems.push({ path: `${at}.${p}`, code: "UNKNOWN_PLATFORM" });
      continue;
    }
    if (!isObject(limits) || Object.keys(limits).some((k) => !(QUOTA_WINDOWS as readonly string[]).includes(k))) {
      problems.push({ path: `${at}.${p}`, code: "INVALID_LIMITS" });
      continue;
    }
    const cell = { ...out[p] } as Limits;
    let ok = true;
    for (const w of QUOTA_WINDOWS) {
      if (!(w in limits)) continue; // left out: kept
      const r = LimitSchema.safeParse(limits[w]);
      if (r.success) cell[w] = r.data;
      else {
        ok = false;
        problems.push({ path: `${at}.${p}.${w}`, code: r.error.issues[0].message as DefaultsProblemCode });
      }
    }
    if (ok) out[p] = cell;
  }
  return out;
}

/** Read a defaults file against the current defaults and the registry; writes nothing. */
export function planDefaultsImport(
  text: string,
  current: DefaultsSnapshot,
  platforms: readonly string[],
): DefaultsPlan {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { problems: [{ path: "", code: "NOT_JSON" }], changes: [], form: null };
  }
  if (!isObject(doc) || doc.format !== DEFAULTS_FORMAT)
    return { problems: [{ path: "format", code: "UNKNOWN_FORMAT" }], changes: [], form: null };
  const problems: DefaultsProblem[] = [];
  const system = overlayMap(current.system, doc.system, "system", platforms, problems);
  const sources = Object.fromEntries(
    AUTH_SOURCES.map((s) => [
      s,
      { grantOnSignup: current.sources[s].grantOnSignup, overrides: current.sources[s].overrides },
    ]),
  ) as QuotaDefaultsForm["sources"];
  if (doc.sources !== undefined && !isObject(doc.sources)) problems.push({ path: "sources", code: "UNKNOWN_SOURCE" });
  for (const [s, raw] of Object.entries(isObject(doc.sources) ? doc.sources : {})) {
    if (!(AUTH_SOURCES as readonly string[]).includes(s)) {
      problems.push({ path: `sources.${s}`, code: "UNKNOWN_SOURCE" });
      continue;
    }
    const src = s as AuthSource;
    if (!isObject(raw)) {
      problems.push({ path: `sources.${s}`, code: "INVALID_LIMITS" });
      continue;
    }
    let grant = current.sources[src].grantOnSignup;
    if (raw.grant_on_signup !== undefined) {
      if (typeof raw.grant_on_signup === "boolean") grant = raw.grant_on_signup;
      else problems.push({ path: `sources.${s}.grant_on_signup`, code: "INVALID_FLAG" });
    }
    sources[src] = {
      grantOnSignup: grant,
      overrides: overlayMap(
        current.sources[src].overrides,
        raw.overrides,
        `sources.${s}.overrides`,
        platforms,
        problems,
      ),
    };
  }
  const changes: DefaultsChange[] = [];
  const diff = (key: string, a: QuotaMap, b: QuotaMap) => {
    for (const p of platforms)
      for (const w of QUOTA_WINDOWS)
        if (a[p][w] !== b[p][w]) changes.push({ key, platform: p, window: w, before: a[p][w], after: b[p][w] });
  };
  diff("system", current.system, system);
  for (const s of AUTH_SOURCES) {
    diff(s, current.sources[s].overrides, sources[s].overrides);
    if (current.sources[s].grantOnSignup !== sources[s].grantOnSignup)
      changes.push({ key: `${s}.grant`, before: current.sources[s].grantOnSignup, after: sources[s].grantOnSignup });
  }
  return {
    problems,
    changes: problems.length ? [] : changes,
    form: problems.length ? null : { version: current.version, system, sources },
  };
}
