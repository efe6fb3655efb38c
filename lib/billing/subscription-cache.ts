/**
 * The subscription usage cache `billing:sub:{userID}:{groupID}` (HASH), byte-compatible with the
 * subscription half of sub2api `backend/internal/repository/billing_cache.go` (spec §11.3).
 *
 * | field         | encoding                                   |
 * |---------------|--------------------------------------------|
 * | status        | string; empty or missing = corrupt entry   |
 * | expires_at    | Unix seconds (base 10)                     |
 * | daily_usage   | Go float ('f', -1); HINCRBYFLOAT output     |
 * | weekly_usage  | Go float ('f', -1); HINCRBYFLOAT output     |
 * | monthly_usage | Go float ('f', -1); HINCRBYFLOAT output     |
 * | version       | int64 (updated_at of the subscription row) |
 *
 * There is no window logic here: rollover happens in the database, followed by an invalidation.
 * Redis errors propagate; the gateway fails open to the database on any read error.
 */
import type Redis from "ioredis";

import { formatGoFloat, formatGoInt, parseIntField, parseUnixSeconds, parseUsage, unixSeconds } from "./encoding";
import { billingKeys } from "./keys";
import { LuaScript } from "./script";
import { jitteredTtlSeconds } from "./ttl";

/** Go's zero time.Time (0001-01-01 UTC) in epoch ms: what ExpiresAt holds when expires_at is absent or unparsable. */
export const GO_ZERO_TIME_MS = -62_135_596_800_000;

export interface SubscriptionCacheData {
  status: string;
  /** Epoch ms (whole seconds on the wire); GO_ZERO_TIME_MS when the field was missing. */
  expiresAtMs: number;
  dailyUsage: number;
  weeklyUsage: number;
  monthlyUsage: number;
  version: number;
}

// KEYS[1] subscription key; ARGV[1] cost; ARGV[2] TTL seconds. The cost goes through tonumber, so
// Redis re-stringifies it before HINCRBYFLOAT — kept as the gateway does it.
const updateUsageScript = new LuaScript(
  "updateSubscriptionUsage",
  `if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local delta = tonumber(ARGV[1])
for _, field in ipairs({'daily_usage', 'weekly_usage', 'monthly_usage'}) do
  redis.call('HINCRBYFLOAT', KEYS[1], field, delta)
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
`,
  1,
);

/** Cached subscription, null on a miss; an entry without status throws (Go's parse error, which the gateway treats as a miss). */
export async function getSubscriptionCache(
  redis: Redis,
  userId: number | bigint,
  groupId: number | bigint,
): Promise<SubscriptionCacheData | null> {
  const h = await redis.hgetall(billingKeys.subscription(userId, groupId));
  if (Object.keys(h).length === 0) return null;
  if (!h.status) throw new Error("invalid cache: missing status");
  return {
    status: h.status,
    expiresAtMs: parseUnixSeconds(h.expires_at) ?? GO_ZERO_TIME_MS,
    dailyUsage: parseUsage(h.daily_usage),
    weeklyUsage: parseUsage(h.weekly_usage),
    monthlyUsage: parseUsage(h.monthly_usage),
    version: parseIntField(h.version),
  };
}

/** Writes all six fields and a jittered TTL in one non-transactional pipeline, as the gateway does. */
export async function setSubscriptionCache(
  redis: Redis,
  userId: number | bigint,
  groupId: number | bigint,
  data: SubscriptionCacheData,
  random: () => number = Math.random,
): Promise<void> {
  const key = billingKeys.subscription(userId, groupId);
  const results = await redis
    .pipeline()
    .hset(
      key,
      "status",
      data.status,
      "expires_at",
      formatGoInt(unixSeconds(data.expiresAtMs)),
      "daily_usage",
      formatGoFloat(data.dailyUsage),
      "weekly_usage",
      formatGoFloat(data.weeklyUsage),
      "monthly_usage",
      formatGoFloat(data.monthlyUsage),
      "version",
      formatGoInt(data.version),
    )
    .expire(key, jitteredTtlSeconds(random))
    .exec();
  const failed = results?.find(([err]) => err);
  if (failed) throw failed[0];
}

/** Adds `cost` to all three usage fields only when the entry exists (1 = applied, 0 = miss), refreshing the TTL. */
export async function updateSubscriptionUsage(
  redis: Redis,
  userId: number | bigint,
  groupId: number | bigint,
  cost: number,
  random: () => number = Math.random,
): Promise<0 | 1> {
  const applied = await updateUsageScript.run(
    redis,
    [billingKeys.subscription(userId, groupId)],
    [formatGoFloat(cost), formatGoInt(jitteredTtlSeconds(random))],
  );
  return applied === 1 ? 1 : 0;
}

/** Drops the entry after a DB-side change (window rollover, renewal) so the next read reloads it. */
export async function invalidateSubscriptionCache(
  redis: Redis,
  userId: number | bigint,
  groupId: number | bigint,
): Promise<void> {
  await redis.del(billingKeys.subscription(userId, groupId));
}
