import {
  canonicalDecimal,
  canonicalSmallInt,
  formatGoFloat,
  formatGoInt,
  formatNullableFloat,
  formatNullableInstant,
  readQuotaInstant,
  readQuotaInt,
  readQuotaLimit,
  readQuotaUsage,
} from "./encoding";

/**
 * The quota hash's contents (spec §6.1): its 11 fields, their TTLs, and the pure encoding and decoding
 * of an entry exactly as the Go gateway writes and reads it. No Redis here: quota-cache.ts does the
 * I/O (and re-exports these, so importers keep one module).
 */
export const QUOTA_SCHEMA_VERSION = 1;
export const QUOTA_CACHE_TTL_SECONDS = 86400;
export const QUOTA_SENTINEL_TTL_SECONDS = 3600;
export const DIRTY_SET_TTL_SECONDS = 86400;
/** Fence hashes outlive any rebuild in flight (a load is bounded by seconds) by a wide margin. */
export const FENCE_TTL_SECONDS = 86400;
/** Op maps outlive the longest time an op can stay unresolved in the journal or the outbox. */
export const OP_MAP_TTL_SECONDS = 172800;

export type QuotaCacheEntry = {
  dailyUsage: number;
  weeklyUsage: number;
  monthlyUsage: number;
  version: number;
  schemaVersion: number;
  dailyLimit: number | null;
  weeklyLimit: number | null;
  monthlyLimit: number | null;
  /** Epoch ms (whole seconds, as stored), or null. */
  dailyWindowStart: number | null;
  weeklyWindowStart: number | null;
  monthlyWindowStart: number | null;
};

/** An entry as read: the values Go's reader would see, plus the fields whose bytes are not what any legitimate writer produces. */
export type DecodedQuotaEntry = QuotaCacheEntry & { malformed: readonly QuotaField[] | null };

/** The 11 fields in the order the gateway's HSET writes them. */
export const QUOTA_FIELDS = [
  "daily_usage",
  "weekly_usage",
  "monthly_usage",
  "version",
  "schema_version",
  "daily_limit",
  "weekly_limit",
  "monthly_limit",
  "daily_window_start",
  "weekly_window_start",
  "monthly_window_start",
] as const;
export type QuotaField = (typeof QUOTA_FIELDS)[number];

/** HSET arguments (field, value, …) exactly as Go's SetUserPlatformQuotaCache writes them. */
export function encodeQuotaEntry(e: QuotaCacheEntry): string[] {
  for (const u of [e.dailyUsage, e.weeklyUsage, e.monthlyUsage]) {
    // The increment script has no rollback: a non-numeric usage would break it half-way.
    if (!Number.isFinite(u)) throw new Error(`quota usage must be finite, got ${u}`);
  }
  return [
    "daily_usage",
    formatGoFloat(e.dailyUsage),
    "weekly_usage",
    formatGoFloat(e.weeklyUsage),
    "monthly_usage",
    formatGoFloat(e.monthlyUsage),
    "version",
    formatGoInt(e.version),
    "schema_version",
    formatGoInt(e.schemaVersion),
    "daily_limit",
    formatNullableFloat(e.dailyLimit),
    "weekly_limit",
    formatNullableFloat(e.weeklyLimit),
    "monthly_limit",
    formatNullableFloat(e.monthlyLimit),
    "daily_window_start",
    formatNullableInstant(e.dailyWindowStart),
    "weekly_window_start",
    formatNullableInstant(e.weeklyWindowStart),
    "monthly_window_start",
    formatNullableInstant(e.monthlyWindowStart),
  ];
}

/**
 * HGETALL result → the entry exactly as Go's reader builds it (upstream parseUserPlatformQuotaHash:
 * unparsable usage → 0, unparsable limit → nil, unparsable instant → nil, `n, _ := ParseInt`), so
 * both sides decide alike; an empty hash is a miss (null). Bytes no legitimate writer produces are
 * listed in `malformed`, so the caller can count and repair them.
 */
export function decodeQuotaEntry(h: Record<string, string>): DecodedQuotaEntry | null {
  // Go reads with HGETALL: any non-empty hash is a hit (a legacy one is rejected by schemaVersion).
  if (isEmpty(h)) return null;
  return decodeFields(
    h.daily_usage,
    h.weekly_usage,
    h.monthly_usage,
    h.version,
    h.schema_version,
    h.daily_limit,
    h.weekly_limit,
    h.monthly_limit,
    h.daily_window_start,
    h.weekly_window_start,
    h.monthly_window_start,
  );
}

/**
 * HMGET of the 11 fields (in QUOTA_FIELDS order) → the same entry decodeQuotaEntry makes of that
 * hash's HGETALL. All 11 nil is a miss (null): the key is absent, or holds none of the gateway's
 * fields — which upstream's HGETALL reads as a legacy hit (schema_version 0), and handles exactly as
 * a miss (spec §5.2 step 3). The eligibility check reads this way: Redis and ioredis answer an
 * HMGET without building a field-name map, so the hot path costs less than a raw HGETALL.
 */
export function decodeQuotaValues(v: ReadonlyArray<string | null>): DecodedQuotaEntry | null {
  let any = false;
  for (let n = 0; n < QUOTA_FIELDS.length; n++) if (v[n] !== null && v[n] !== undefined) any = true;
  if (!any) return null;
  const f = (n: number) => v[n] ?? undefined;
  return decodeFields(f(0), f(1), f(2), f(3), f(4), f(5), f(6), f(7), f(8), f(9), f(10));
}

/** The 11 fields (undefined = absent) → the entry, as Go reads them. */
function decodeFields(
  a: string | undefined,
  b: string | undefined,
  c: string | undefined,
  d: string | undefined,
  e: string | undefined,
  f: string | undefined,
  g: string | undefined,
  i: string | undefined,
  j: string | undefined,
  k: string | undefined,
  l: string | undefined,
): DecodedQuotaEntry {
  // The hot path: every field in the canonical form a legitimate writer produces (NaN = not canonical;
  // those bytes take Go's full readers below, which give the same value for a canonical field).
  if (a !== undefined && b !== undefined && c !== undefined && d !== undefined && e !== undefined) {
    if (
      f !== undefined &&
      g !== undefined &&
      i !== undefined &&
      j !== undefined &&
      k !== undefined &&
      l !== undefined
    ) {
      const du = canonicalDecimal(a, true);
      const wu = canonicalDecimal(b, true);
      const mu = canonicalDecimal(c, true);
      const ver = canonicalSmallInt(d);
      const sv = canonicalSmallInt(e);
      const dl = f === "" ? null : canonicalDecimal(f, false);
      const wl = g === "" ? null : canonicalDecimal(g, false);
      const ml = i === "" ? null : canonicalDecimal(i, false);
      const ds = j === "" ? null : canonicalSmallInt(j) * 1000;
      const ws = k === "" ? null : canonicalSmallInt(k) * 1000;
      const ms = l === "" ? null : canonicalSmallInt(l) * 1000;
      // NaN !== NaN: one comparison per field tells canonical from not.
      if (
        du === du &&
        wu === wu &&
        mu === mu &&
        ver === ver &&
        sv === sv &&
        dl === dl &&
        wl === wl &&
        ml === ml &&
        ds === ds &&
        ws === ws &&
        ms === ms
      ) {
        return {
          dailyUsage: du,
          weeklyUsage: wu,
          monthlyUsage: mu,
          version: ver,
          schemaVersion: sv,
          dailyLimit: dl,
          weeklyLimit: wl,
          monthlyLimit: ml,
          dailyWindowStart: ds,
          weeklyWindowStart: ws,
          monthlyWindowStart: ms,
          malformed: null,
        };
      }
    }
  }
  let bad: QuotaField[] | null = null;
  const mark = (field: QuotaField) => (bad ??= []).push(field);
  const du = readQuotaUsage(a);
  if (du.malformed) mark("daily_usage");
  const wu = readQuotaUsage(b);
  if (wu.malformed) mark("weekly_usage");
  const mu = readQuotaUsage(c);
  if (mu.malformed) mark("monthly_usage");
  const ver = readQuotaInt(d);
  if (ver.malformed) mark("version");
  const sv = readQuotaInt(e);
  if (sv.malformed) mark("schema_version");
  const dl = readQuotaLimit(f);
  if (dl.malformed) mark("daily_limit");
  const wl = readQuotaLimit(g);
  if (wl.malformed) mark("weekly_limit");
  const ml = readQuotaLimit(i);
  if (ml.malformed) mark("monthly_limit");
  const ds = readQuotaInstant(j);
  if (ds.malformed) mark("daily_window_start");
  const ws = readQuotaInstant(k);
  if (ws.malformed) mark("weekly_window_start");
  const ms = readQuotaInstant(l);
  if (ms.malformed) mark("monthly_window_start");
  return {
    dailyUsage: du.value,
    weeklyUsage: wu.value,
    monthlyUsage: mu.value,
    version: ver.value,
    schemaVersion: sv.value,
    dailyLimit: dl.value,
    weeklyLimit: wl.value,
    monthlyLimit: ml.value,
    dailyWindowStart: ds.value,
    weeklyWindowStart: ws.value,
    monthlyWindowStart: ms.value,
    malformed: bad,
  };
}

function isEmpty(h: Record<string, string>): boolean {
  for (const k in h) if (Object.prototype.hasOwnProperty.call(h, k)) return false;
  return true;
}

/**
 * hasAnyLimit (lib/billing/vocabulary.ts) for an entry or row, whose limits are flat fields: false
 * for a sentinel, which has none. Compared in place: the eligibility check calls it per request.
 */
export function entryHasAnyLimit(e: Pick<QuotaCacheEntry, "dailyLimit" | "weeklyLimit" | "monthlyLimit">): boolean {
  return e.dailyLimit !== null || e.weeklyLimit !== null || e.monthlyLimit !== null;
}
