/**
 * The wallet balance cache `billing:balance:{userID}` (STRING), byte-compatible with the balance
 * half of sub2api `backend/internal/repository/billing_cache.go` (spec §11.2).
 *
 * Values are Go floats ('f', -1). After a deduct the value is whatever Redis itself prints for a
 * Lua number (the format differs between Redis versions), so readers must parse, never compare
 * bytes. Every function propagates Redis errors: the caller chooses the policy, and the gateway's
 * is fail-open to the database (any read error is treated as a miss).
 */
import type Redis from "ioredis";

import { formatGoFloat, formatGoInt, parseGoFloat } from "./encoding";
import { billingKeys } from "./keys";
import { LuaScript } from "./script";
import { goRedisSetExpiry, jitteredTtlMs, jitteredTtlSeconds } from "./ttl";

// KEYS[1] balance key; ARGV[1] amount; ARGV[2] TTL seconds. A missing key is left missing (the
// next read reloads from the DB); otherwise the subtraction happens in Lua and Redis stringifies
// the resulting number itself.
const deductScript = new LuaScript(
  "deductBalance",
  `local balance = redis.call('GET', KEYS[1])
if not balance then
  return 0
end
redis.call('SET', KEYS[1], tonumber(balance) - tonumber(ARGV[1]))
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
`,
  1,
);

const GO_INF = /^[+-]?(?:inf|infinity)$/i;

/** Cached balance, or null on a miss; a value Go's ParseFloat rejects (syntax or range) throws as in Go. */
export async function getUserBalance(redis: Redis, userId: number | bigint): Promise<number | null> {
  const raw = await redis.get(billingKeys.balance(userId));
  if (raw === null) return null;
  const value = parseGoFloat(raw);
  if (value === null) throw new Error(`strconv.ParseFloat: parsing ${JSON.stringify(raw)}: invalid syntax`);
  // Go returns ±Inf together with ErrRange for overflowing decimals, and the gateway treats it as an error.
  if (!Number.isFinite(value) && !Number.isNaN(value) && !GO_INF.test(raw)) {
    throw new Error(`strconv.ParseFloat: parsing ${JSON.stringify(raw)}: value out of range`);
  }
  return value;
}

/** Writes the balance as the gateway does: SET with a Go float and the jittered TTL (EX or PX like go-redis). */
export async function setUserBalance(
  redis: Redis,
  userId: number | bigint,
  balance: number,
  random: () => number = Math.random,
): Promise<void> {
  const [unit, ttl] = goRedisSetExpiry(jitteredTtlMs(random));
  if (unit === "EX") await redis.set(billingKeys.balance(userId), formatGoFloat(balance), "EX", ttl);
  else await redis.set(billingKeys.balance(userId), formatGoFloat(balance), "PX", ttl);
}

/** Atomically subtracts `amount` only when the key exists (1 = applied, 0 = miss, nothing written), refreshing the TTL. */
export async function deductUserBalance(
  redis: Redis,
  userId: number | bigint,
  amount: number,
  random: () => number = Math.random,
): Promise<0 | 1> {
  const applied = await deductScript.run(
    redis,
    [billingKeys.balance(userId)],
    [formatGoFloat(amount), formatGoInt(jitteredTtlSeconds(random))],
  );
  return applied === 1 ? 1 : 0;
}

/** Drops the cached balance so the next read reloads it from the database. */
export async function invalidateUserBalance(redis: Redis, userId: number | bigint): Promise<void> {
  await redis.del(billingKeys.balance(userId));
}
