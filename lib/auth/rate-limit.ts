import "server-only";
import { createHash } from "node:crypto";
import type Redis from "ioredis";
import { env } from "@/lib/config/env";
import { redis } from "@/lib/redis/client";
import { loginFailureKeys, registrationKey } from "@/lib/redis/keys";

/**
 * Sign-in throttling: after LOGIN_MAX_FAILURES failed attempts for one account (or
 * LOGIN_IP_MAX_FAILURES from one IP) within LOGIN_WINDOW_SECONDS, further attempts are refused
 * — even with the right password — until the window has passed.
 *
 * Counters live in Redis so that every console instance shares them. When Redis is not
 * configured or fails, a per-process memory counter takes over (fail-closed for brute force:
 * throttling never silently turns off, it only becomes per instance).
 */
export type LoginGate = { allowed: true } | { allowed: false; retryAfterSeconds: number };

// KEYS: account counter, ip counter. ARGV: window seconds. Increments both, starting the window on
// the first failure only (EXPIRE NX), in one round trip.
const RECORD_FAILURE_LUA = `
local a = redis.call('INCR', KEYS[1])
redis.call('EXPIRE', KEYS[1], ARGV[1], 'NX')
local i = redis.call('INCR', KEYS[2])
redis.call('EXPIRE', KEYS[2], ARGV[1], 'NX')
return {a, i}
`;

// KEYS: account counter, ip counter. Returns {accountCount, accountTtl, ipCount, ipTtl}.
const READ_LUA = `
return {tonumber(redis.call('GET', KEYS[1]) or '0'), redis.call('TTL', KEYS[1]),
        tonumber(redis.call('GET', KEYS[2]) or '0'), redis.call('TTL', KEYS[2])}
`;

type LimiterRedis = Redis & {
  qcLoginRead(a: string, i: string): Promise<[number, number, number, number]>;
  qcLoginFail(a: string, i: string, windowSeconds: number): Promise<[number, number]>;
};

function limiterRedis(): LimiterRedis | null {
  const r = redis() as (LimiterRedis & { qcLoginDefined?: boolean }) | null;
  if (r && !r.qcLoginDefined) {
    r.defineCommand("qcLoginRead", { numberOfKeys: 2, lua: READ_LUA });
    r.defineCommand("qcLoginFail", { numberOfKeys: 2, lua: RECORD_FAILURE_LUA });
    r.qcLoginDefined = true;
  }
  return r;
}

/** Account key material: a hash of the normalised e-mail, so no address is stored in Redis. */
function accountId(email: string): string {
  return createHash("sha256").update(email.trim().toLowerCase()).digest("hex").slice(0, 32);
}

const memory = new Map<string, { count: number; resetAt: number }>();

function memoryRead(key: string, now: number) {
  const e = memory.get(key);
  if (!e || e.resetAt <= now) return { count: 0, ttl: 0 };
  return { count: e.count, ttl: Math.ceil((e.resetAt - now) / 1000) };
}

function memoryFail(key: string, now: number, windowSeconds: number) {
  const e = memory.get(key);
  if (!e || e.resetAt <= now) memory.set(key, { count: 1, resetAt: now + windowSeconds * 1000 });
  else e.count += 1;
  if (memory.size > 50_000) {
    for (const [k, v] of memory) if (v.resetAt <= now) memory.delete(k);
  }
}

function gate(acct: { count: number; ttl: number }, ip: { count: number; ttl: number }): LoginGate {
  const { LOGIN_MAX_FAILURES, LOGIN_IP_MAX_FAILURES, LOGIN_WINDOW_SECONDS } = env();
  const waits: number[] = [];
  if (acct.count >= LOGIN_MAX_FAILURES) waits.push(acct.ttl);
  if (ip.count >= LOGIN_IP_MAX_FAILURES) waits.push(ip.ttl);
  if (!waits.length) return { allowed: true };
  const wait = Math.max(...waits);
  return { allowed: false, retryAfterSeconds: wait > 0 ? wait : LOGIN_WINDOW_SECONDS };
}

/** Whether another sign-in attempt for this account from this IP may be tried now. */
export async function checkLoginGate(email: string, ip: string): Promise<LoginGate> {
  const keys = loginFailureKeys(accountId(email), ip);
  const r = limiterRedis();
  if (r) {
    try {
      const [ac, at, ic, it] = await r.qcLoginRead(keys.account, keys.ip);
      return gate({ count: ac, ttl: at }, { count: ic, ttl: it });
    } catch {
      // Redis down: fall through to the per-process counters.
    }
  }
  const now = Date.now();
  return gate(memoryRead(keys.account, now), memoryRead(keys.ip, now));
}

/** Count one failed attempt against the account and the IP. */
export async function recordLoginFailure(email: string, ip: string): Promise<void> {
  const keys = loginFailureKeys(accountId(email), ip);
  const window = env().LOGIN_WINDOW_SECONDS;
  const r = limiterRedis();
  if (r) {
    try {
      await r.qcLoginFail(keys.account, keys.ip, window);
      return;
    } catch {
      // fall back below
    }
  }
  const now = Date.now();
  memoryFail(keys.account, now, window);
  memoryFail(keys.ip, now, window);
}

/** A successful sign-in clears the account's counter (not the IP's). */
export async function clearLoginFailures(email: string): Promise<void> {
  const key = loginFailureKeys(accountId(email), "").account;
  memory.delete(key);
  try {
    await redis()?.del(key);
  } catch {
    // The counter expires by itself.
  }
}

// Sign-ups per IP: at most REGISTER_MAX per hour (spam protection for the public register page).
const REGISTER_MAX = 10;
const REGISTER_WINDOW_SECONDS = 3600;

/** Whether this IP may create another account now; counts the attempt when it may. */
export async function takeRegistrationSlot(ip: string): Promise<LoginGate> {
  const key = registrationKey(ip);
  const r = redis();
  if (r) {
    try {
      const [count, ttl] = (await r.multi().incr(key).expire(key, REGISTER_WINDOW_SECONDS, "NX").ttl(key).exec())!.map(([, v]) => Number(v));
      return count > REGISTER_MAX ? { allowed: false, retryAfterSeconds: ttl > 0 ? ttl : REGISTER_WINDOW_SECONDS } : { allowed: true };
    } catch {
      // fall back to memory below
    }
  }
  const now = Date.now();
  memoryFail(key, now, REGISTER_WINDOW_SECONDS);
  const e = memoryRead(key, now);
  return e.count > REGISTER_MAX ? { allowed: false, retryAfterSeconds: e.ttl } : { allowed: true };
}
