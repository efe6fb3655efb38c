/**
 * TTLs of the gateway's non-quota caches (spec §11.1), mirroring the constants and jitteredTTL()
 * in sub2api `backend/internal/repository/billing_cache.go`.
 *
 * The jitter is subtractive only, so a TTL never exceeds 5 minutes. Go draws the jitter in
 * nanoseconds; milliseconds are the finest unit Redis accepts (go-redis sends PX in whole ms), so
 * drawing it in ms yields the same set of TTLs Redis can actually store.
 */

export const BILLING_CACHE_TTL_MS = 300_000;
export const BILLING_CACHE_JITTER_MS = 30_000;
/** apikey:rate:* lives 7 days, the longest rate-limit window. */
export const RATE_LIMIT_CACHE_TTL_SECONDS = 604_800;

/** Balance/subscription TTL in ms, in (270 s, 300 s]; `random` is injectable so tests are exact. */
export function jitteredTtlMs(random: () => number = Math.random): number {
  return BILLING_CACHE_TTL_MS - Math.floor(random() * BILLING_CACHE_JITTER_MS);
}

/** The jittered TTL as Go hands it to Lua and EXPIRE: int(d.Seconds()), i.e. truncated, 270..300. */
export function jitteredTtlSeconds(random: () => number = Math.random): number {
  return Math.trunc(jitteredTtlMs(random) / 1000);
}

/**
 * The expiry arguments go-redis appends to SET for a duration: `PX <ms>` when it is under a second
 * or not a whole number of seconds (its usePrecise), else `EX <s>` — so PTTL matches the gateway's.
 */
export function goRedisSetExpiry(ms: number): ["EX", number] | ["PX", number] {
  return ms < 1000 || ms % 1000 !== 0 ? ["PX", ms] : ["EX", ms / 1000];
}
