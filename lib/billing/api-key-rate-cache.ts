/**
 * The API-key rate-limit cache `apikey:rate:{apiKeyID}` (HASH), byte-compatible with the rate-limit
 * half of sub2api `backend/internal/repository/billing_cache.go`, plus the eligibility rule of
 * `evaluateRateLimits` in `backend/internal/service/billing_cache_service.go` (spec §11.4).
 *
 * | field                           | encoding                                             |
 * |---------------------------------|------------------------------------------------------|
 * | usage_5h, usage_1d, usage_7d    | Go float ('f', -1), Lua tostring (%.14g), or HINCRBYFLOAT output |
 * | window_5h, window_1d, window_7d | Unix seconds of the window start; 0 = not started    |
 *
 * Redis errors propagate; the gateway fails open (a cache miss loads the DB, a DB error allows).
 */
import type Redis from "ioredis";

import { formatGoFloat, formatGoInt, parseIntField, parseUsage, unixSeconds } from "./encoding";
import { billingKeys } from "./keys";
import { LuaScript } from "./script";
import { RATE_LIMIT_CACHE_TTL_SECONDS } from "./ttl";

export const RATE_LIMIT_WINDOW_5H_SECONDS = 5 * 3600;
export const RATE_LIMIT_WINDOW_1D_SECONDS = 24 * 3600;
export const RATE_LIMIT_WINDOW_7D_SECONDS = 7 * 24 * 3600;

/** The cached shape, as Go's APIKeyRateLimitCacheData: windows in Unix seconds, 0 = not started. */
export interface ApiKeyRateLimitCacheData {
  usage5h: number;
  usage1d: number;
  usage7d: number;
  window5h: number;
  window1d: number;
  window7d: number;
}

/** What a writer passes: a window start the DB has as NULL may be given as null and is stored as 0. */
export type ApiKeyRateLimitCacheInput = Omit<ApiKeyRateLimitCacheData, "window5h" | "window1d" | "window7d"> & {
  window5h: number | null;
  window1d: number | null;
  window7d: number | null;
};

export interface ApiKeyRateLimits {
  limit5h: number;
  limit1d: number;
  limit7d: number;
}

export type ApiKeyRateLimitCode = "API_KEY_RATE_5H_EXCEEDED" | "API_KEY_RATE_1D_EXCEEDED" | "API_KEY_RATE_7D_EXCEEDED";

// KEYS[1] rate key; ARGV: cost, TTL seconds, now (Unix s), then the 5h/1d/7d window lengths in
// seconds. A window that never started or has run its length restarts at `now` with usage = cost
// (both written with Lua's tostring); a live window accumulates with HINCRBYFLOAT.
const updateUsageScript = new LuaScript(
  "updateApiKeyRateLimitUsage",
  `if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local cost = tonumber(ARGV[1])
local now = tonumber(ARGV[3])
local windows = {
  {'usage_5h', 'window_5h', tonumber(ARGV[4])},
  {'usage_1d', 'window_1d', tonumber(ARGV[5])},
  {'usage_7d', 'window_7d', tonumber(ARGV[6])},
}
for _, w in ipairs(windows) do
  local start = tonumber(redis.call('HGET', KEYS[1], w[2]) or 0)
  if start == 0 or now - start >= w[3] then
    redis.call('HSET', KEYS[1], w[1], tostring(cost))
    redis.call('HSET', KEYS[1], w[2], tostring(now))
  else
    redis.call('HINCRBYFLOAT', KEYS[1], w[1], cost)
  end
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
`,
  1,
);

/** Cached usage and windows, null on a miss; unparsable fields read as 0 exactly as Go ignores its parse errors. */
export async function getApiKeyRateLimit(
  redis: Redis,
  apiKeyId: number | bigint,
): Promise<ApiKeyRateLimitCacheData | null> {
  const h = await redis.hgetall(billingKeys.apiKeyRateLimit(apiKeyId));
  if (Object.keys(h).length === 0) return null;
  return {
    usage5h: parseUsage(h.usage_5h),
    usage1d: parseUsage(h.usage_1d),
    usage7d: parseUsage(h.usage_7d),
    window5h: parseIntField(h.window_5h),
    window1d: parseIntField(h.window_1d),
    window7d: parseIntField(h.window_7d),
  };
}

/** Writes all six fields (null window → 0) and the 7-day TTL in one non-transactional pipeline, as the gateway does. */
export async function setApiKeyRateLimit(
  redis: Redis,
  apiKeyId: number | bigint,
  data: ApiKeyRateLimitCacheInput,
): Promise<void> {
  const key = billingKeys.apiKeyRateLimit(apiKeyId);
  const results = await redis
    .pipeline()
    .hset(
      key,
      "usage_5h",
      formatGoFloat(data.usage5h),
      "usage_1d",
      formatGoFloat(data.usage1d),
      "usage_7d",
      formatGoFloat(data.usage7d),
      "window_5h",
      formatGoInt(data.window5h ?? 0),
      "window_1d",
      formatGoInt(data.window1d ?? 0),
      "window_7d",
      formatGoInt(data.window7d ?? 0),
    )
    .expire(key, RATE_LIMIT_CACHE_TTL_SECONDS)
    .exec();
  const failed = results?.find(([err]) => err);
  if (failed) throw failed[0];
}

/** Window-aware usage increment, only when the entry exists (1 = applied, 0 = miss); `nowMs` is floored to Unix seconds like Go's Unix(). */
export async function updateApiKeyRateLimitUsage(
  redis: Redis,
  apiKeyId: number | bigint,
  cost: number,
  nowMs: number = Date.now(),
): Promise<0 | 1> {
  const applied = await updateUsageScript.run(
    redis,
    [billingKeys.apiKeyRateLimit(apiKeyId)],
    [
      formatGoFloat(cost),
      formatGoInt(RATE_LIMIT_CACHE_TTL_SECONDS),
      formatGoInt(unixSeconds(nowMs)),
      formatGoInt(RATE_LIMIT_WINDOW_5H_SECONDS),
      formatGoInt(RATE_LIMIT_WINDOW_1D_SECONDS),
      formatGoInt(RATE_LIMIT_WINDOW_7D_SECONDS),
    ],
  );
  return applied === 1 ? 1 : 0;
}

/** Drops the entry (after a window reset in the DB) so the next check reloads it. */
export async function invalidateApiKeyRateLimit(redis: Redis, apiKeyId: number | bigint): Promise<void> {
  await redis.del(billingKeys.apiKeyRateLimit(apiKeyId));
}

/** Go's IsWindowExpired on a cached start: 0 (or negative) is nil = expired; else time.Since(start) ≥ length, at ms precision. */
function windowExpired(startUnix: number, lengthSeconds: number, nowMs: number): boolean {
  return startUnix <= 0 || nowMs - startUnix * 1000 >= lengthSeconds * 1000;
}

/**
 * The gateway's eligibility rule for a key's rate limits: expired windows count as 0 usage and set
 * `expired` (the caller must then reset the DB windows and DEL the cache); limits are checked
 * 5h → 1d → 7d, each only when > 0, and `usage >= limit` rejects.
 */
export function evaluateApiKeyRateLimits(
  data: ApiKeyRateLimitCacheData,
  limits: ApiKeyRateLimits,
  nowMs: number,
): { expired: boolean; exceeded: ApiKeyRateLimitCode | null } {
  const checks = [
    {
      usage: data.usage5h,
      start: data.window5h,
      length: RATE_LIMIT_WINDOW_5H_SECONDS,
      limit: limits.limit5h,
      code: "API_KEY_RATE_5H_EXCEEDED",
    },
    {
      usage: data.usage1d,
      start: data.window1d,
      length: RATE_LIMIT_WINDOW_1D_SECONDS,
      limit: limits.limit1d,
      code: "API_KEY_RATE_1D_EXCEEDED",
    },
    {
      usage: data.usage7d,
      start: data.window7d,
      length: RATE_LIMIT_WINDOW_7D_SECONDS,
      limit: limits.limit7d,
      code: "API_KEY_RATE_7D_EXCEEDED",
    },
  ] as const;
  let expired = false;
  let exceeded: ApiKeyRateLimitCode | null = null;
  for (const c of checks) {
    const isExpired = windowExpired(c.start, c.length, nowMs);
    if (isExpired) expired = true;
    const usage = isExpired ? 0 : c.usage;
    if (exceeded === null && c.limit > 0 && usage >= c.limit) exceeded = c.code;
  }
  return { expired, exceeded };
}
