import "server-only";

import type Redis from "ioredis";

import { env } from "@/lib/config/env";
import { redis } from "@/lib/redis/client";
import { signInThrottleKeys } from "@/lib/redis/keys";

/**
 * Sign-in throttling that an attacker cannot turn against the account owner (issue 10, finding 2).
 *
 *  - **Per account and client** (the main limit): LOGIN_MAX_FAILURES free failures, then each
 *    attempt must wait 30 s × 2^(failures − free), at most LOGIN_WINDOW_SECONDS, after the last
 *    one. The state is forgotten 24 h after the last attempt, and cleared by a success.
 *  - **Per client** (all accounts): LOGIN_IP_MAX_FAILURES per LOGIN_WINDOW_SECONDS, so one client
 *    cannot spray guesses over many accounts.
 *  - **Per account** (a slow, high ceiling against many clients): LOGIN_ACCOUNT_MAX_FAILURES per
 *    LOGIN_ACCOUNT_WINDOW_SECONDS from unrecognised devices.
 *  - **Known device**: a browser holding a valid device token for the account (a past successful
 *    sign-in, lib/auth/device-token.ts) is limited only by its own failures (the per-account-and-
 *    client rule with the device as the client). Failures from anyone else never block it.
 *
 * Every attempt is counted as a failure when it is let through (one atomic step, so a burst of
 * parallel guesses cannot all pass the check before any failure is recorded); a success then
 * clears the pair and refunds its client and account counts.
 *
 * The account is the resolved account (`u:<id>`), or `e:<digest>` of the normalised address when
 * no single account has it, so every spelling of one address shares one counter and unknown
 * addresses are throttled exactly like known ones. No address is stored or logged.
 *
 * Counters live in Redis so that every console instance shares them. When Redis is not configured
 * or fails, per-process memory counters take over: throttling never switches off (fail-closed for
 * brute force), it only becomes per instance.
 */
export type ThrottleScope = "pair" | "client" | "account";

export type AttemptSubject = {
  /** `u:<user id>` or `e:<digest of the normalised address>` */
  account: string;
  /** the client's throttle key (lib/auth/client-ip.ts clientThrottleKey) */
  client: string;
  /** this browser's device nonce for the account when it presented a valid one */
  device: string | null;
};

export type AttemptCounts = { pair: number; client: number; account: number };

export type AttemptGate =
  { allowed: true; counts: AttemptCounts } | { allowed: false; retryAfterSeconds: number; scope: ThrottleScope };

export type ThrottleConfig = {
  free: number;
  baseMs: number;
  maxDelayMs: number;
  pairTtlSeconds: number;
  clientMax: number;
  clientWindowSeconds: number;
  accountMax: number;
  accountWindowSeconds: number;
};

/**
 * What the throttle runs on: the Redis client holding the shared counters (null: memory only) and its
 * limits. The app's (its Redis client, its environment) unless a caller passes its own.
 */
export type ThrottleDeps = { redis: Redis | null; config: ThrottleConfig };

export function appThrottleDeps(): ThrottleDeps {
  return { redis: redis(), config: throttleConfig() };
}

export const BACKOFF_BASE_SECONDS = 30;
export const PAIR_TTL_SECONDS = 86_400;

export function throttleConfig(): ThrottleConfig {
  const e = env();
  return {
    free: e.LOGIN_MAX_FAILURES,
    baseMs: BACKOFF_BASE_SECONDS * 1000,
    maxDelayMs: e.LOGIN_WINDOW_SECONDS * 1000,
    pairTtlSeconds: PAIR_TTL_SECONDS,
    clientMax: e.LOGIN_IP_MAX_FAILURES,
    clientWindowSeconds: e.LOGIN_WINDOW_SECONDS,
    accountMax: e.LOGIN_ACCOUNT_MAX_FAILURES,
    accountWindowSeconds: e.LOGIN_ACCOUNT_WINDOW_SECONDS,
  };
}

/** How long after its last attempt a pair with `failures` failures must wait (0 = free). */
export function backoffMs(failures: number, cfg: Pick<ThrottleConfig, "free" | "baseMs" | "maxDelayMs">): number {
  if (failures < cfg.free) return 0;
  return Math.min(cfg.maxDelayMs, cfg.baseMs * 2 ** (failures - cfg.free));
}

type ThrottleCounts = { refused: Record<ThrottleScope, number>; lockouts: Record<ThrottleScope, number> };
const globalForThrottle = globalThis as unknown as { qcSignInThrottleCounts?: ThrottleCounts };

/**
 * Sign-in throttling events of this process, for /api/metrics (lib/metrics/app-metrics.ts). Kept
 * on globalThis: the server bundles each route separately, and the sign-in action and the metrics
 * route must count in one object.
 */
export const signInThrottleCounts: ThrottleCounts = (globalForThrottle.qcSignInThrottleCounts ??= {
  refused: { pair: 0, client: 0, account: 0 },
  lockouts: { pair: 0, client: 0, account: 0 },
});

// KEYS: pair hash, client counter, account counter.
// ARGV: now ms, free, base ms, max delay ms, pair ttl s, known (0/1), client max, client window s,
//       account max, account window s.
// Returns {0, wait ms, scope} when refused, else {1, pair, client, account} after counting.
// The same decision as `decide` below (the memory fallback).
const TAKE_LUA = `
local now, free, base, maxd = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local known = ARGV[6] == '1'
local n = tonumber(redis.call('HGET', KEYS[1], 'n') or '0')
local last = tonumber(redis.call('HGET', KEYS[1], 'last') or '0')
local wait, scope = 0, ''
if n >= free then
  local w = last + math.min(maxd, base * 2 ^ (n - free)) - now
  if w > wait then wait, scope = w, 'pair' end
end
local c, a = 0, 0
if not known then
  c = tonumber(redis.call('GET', KEYS[2]) or '0')
  if c >= tonumber(ARGV[7]) then
    local w = redis.call('PTTL', KEYS[2])
    if w < 0 then w = tonumber(ARGV[8]) * 1000 end
    if w > wait then wait, scope = w, 'client' end
  end
  a = tonumber(redis.call('GET', KEYS[3]) or '0')
  if a >= tonumber(ARGV[9]) then
    local w = redis.call('PTTL', KEYS[3])
    if w < 0 then w = tonumber(ARGV[10]) * 1000 end
    if w > wait then wait, scope = w, 'account' end
  end
end
if wait > 0 then return {0, math.ceil(wait), scope} end
redis.call('HSET', KEYS[1], 'n', n + 1, 'last', now)
redis.call('EXPIRE', KEYS[1], ARGV[5])
if not known then
  c = redis.call('INCR', KEYS[2])
  redis.call('EXPIRE', KEYS[2], ARGV[8], 'NX')
  a = redis.call('INCR', KEYS[3])
  redis.call('EXPIRE', KEYS[3], ARGV[10], 'NX')
end
return {1, n + 1, c, a}
`;

// KEYS: pair hash, client counter, account counter. ARGV: known (0/1). A success: the pair is
// cleared, the attempt's own client and account counts refunded.
const SUCCEED_LUA = `
redis.call('DEL', KEYS[1])
if ARGV[1] ~= '1' then
  for i = 2, 3 do
    if tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then redis.call('DECR', KEYS[i]) end
  end
end
return 1
`;

type ThrottleRedis = Redis & {
  qcSignInTake(
    pair: string,
    client: string,
    account: string,
    ...argv: (string | number)[]
  ): Promise<[number, number, string | number, number?]>;
  qcSignInSucceed(pair: string, client: string, account: string, known: string): Promise<number>;
};

function throttleRedis(client: Redis | null): ThrottleRedis | null {
  const r = client as (ThrottleRedis & { qcSignInDefined?: boolean }) | null;
  if (r && !r.qcSignInDefined) {
    r.defineCommand("qcSignInTake", { numberOfKeys: 3, lua: TAKE_LUA });
    r.defineCommand("qcSignInSucceed", { numberOfKeys: 3, lua: SUCCEED_LUA });
    r.qcSignInDefined = true;
  }
  return r;
}

function keysOf(s: AttemptSubject) {
  return signInThrottleKeys(s.account, s.device ? `d:${s.device}` : `c:${s.client}`, s.client);
}

// ---- per-process memory fallback -------------------------------------------------------------

type PairState = { n: number; last: number; expiresAt: number };
type CounterState = { count: number; resetAt: number };
const pairs = new Map<string, PairState>();
const counters = new Map<string, CounterState>();
const MEMORY_SOFT_CAP = 50_000;
const MEMORY_HARD_CAP = 200_000;

function prune<T extends object>(map: Map<string, T>, expired: (v: T) => boolean) {
  if (map.size <= MEMORY_SOFT_CAP) return;
  for (const [k, v] of map) if (expired(v)) map.delete(k);
  // Still too many live entries (an address-rotating flood): drop the oldest, bounded memory first.
  for (const k of map.keys()) {
    if (map.size <= MEMORY_HARD_CAP) break;
    map.delete(k);
  }
}

function counterOf(key: string, now: number): CounterState | null {
  const c = counters.get(key);
  return c && c.resetAt > now ? c : null;
}

/** The decision of TAKE_LUA, on plain numbers (the memory path, and its unit test). */
export function decide(
  s: { pairN: number; pairLast: number; client: number; clientTtlMs: number; account: number; accountTtlMs: number },
  known: boolean,
  now: number,
  cfg: ThrottleConfig,
): { allowed: true } | { allowed: false; waitMs: number; scope: ThrottleScope } {
  let wait = 0;
  let scope: ThrottleScope = "pair";
  const pairWait = s.pairN >= cfg.free ? s.pairLast + backoffMs(s.pairN, cfg) - now : 0;
  if (pairWait > wait) [wait, scope] = [pairWait, "pair"];
  if (!known) {
    if (s.client >= cfg.clientMax && s.clientTtlMs > wait) [wait, scope] = [s.clientTtlMs, "client"];
    if (s.account >= cfg.accountMax && s.accountTtlMs > wait) [wait, scope] = [s.accountTtlMs, "account"];
  }
  return wait > 0 ? { allowed: false, waitMs: Math.ceil(wait), scope } : { allowed: true };
}

function memoryTake(keys: ReturnType<typeof keysOf>, known: boolean, now: number, cfg: ThrottleConfig): AttemptGate {
  const p = pairs.get(keys.pair);
  const pair = p && p.expiresAt > now ? p : { n: 0, last: 0, expiresAt: 0 };
  const client = counterOf(keys.client, now);
  const account = counterOf(keys.account, now);
  const d = decide(
    {
      pairN: pair.n,
      pairLast: pair.last,
      client: client?.count ?? 0,
      clientTtlMs: client ? client.resetAt - now : 0,
      account: account?.count ?? 0,
      accountTtlMs: account ? account.resetAt - now : 0,
    },
    known,
    now,
    cfg,
  );
  if (!d.allowed) return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(d.waitMs / 1000)), scope: d.scope };
  const next = { n: pair.n + 1, last: now, expiresAt: now + cfg.pairTtlSeconds * 1000 };
  pairs.delete(keys.pair); // re-insert: Map order stays oldest-first for pruning
  pairs.set(keys.pair, next);
  prune(pairs, (v) => v.expiresAt <= now);
  let c = 0;
  let a = 0;
  if (!known) {
    const bump = (key: string, existing: CounterState | null, windowSeconds: number) => {
      if (existing) return ++existing.count;
      counters.set(key, { count: 1, resetAt: now + windowSeconds * 1000 });
      return 1;
    };
    c = bump(keys.client, client, cfg.clientWindowSeconds);
    a = bump(keys.account, account, cfg.accountWindowSeconds);
    prune(counters, (v) => v.resetAt <= now);
  }
  return { allowed: true, counts: { pair: next.n, client: c, account: a } };
}

function memorySucceed(keys: ReturnType<typeof keysOf>, known: boolean, now: number) {
  pairs.delete(keys.pair);
  if (known) return;
  for (const key of [keys.client, keys.account]) {
    const c = counterOf(key, now);
    if (c && c.count > 0) c.count -= 1;
  }
}

// ---- the API ---------------------------------------------------------------------------------

/**
 * Whether this sign-in attempt may be evaluated now; if so it is counted (as a failure until
 * `settleSignInAttempt` says otherwise).
 */
export async function takeSignInAttempt(
  s: AttemptSubject,
  now = Date.now(),
  deps: ThrottleDeps = appThrottleDeps(),
): Promise<AttemptGate> {
  const cfg = deps.config;
  const keys = keysOf(s);
  const known = s.device !== null;
  let gate: AttemptGate | null = null;
  const r = throttleRedis(deps.redis);
  if (r) {
    try {
      const [ok, x, y, z] = await r.qcSignInTake(
        keys.pair,
        keys.client,
        keys.account,
        now,
        cfg.free,
        cfg.baseMs,
        cfg.maxDelayMs,
        cfg.pairTtlSeconds,
        known ? 1 : 0,
        cfg.clientMax,
        cfg.clientWindowSeconds,
        cfg.accountMax,
        cfg.accountWindowSeconds,
      );
      gate =
        ok === 1
          ? { allowed: true, counts: { pair: Number(x), client: Number(y), account: Number(z) } }
          : {
              allowed: false,
              retryAfterSeconds: Math.max(1, Math.ceil(Number(x) / 1000)),
              scope: String(y) as ThrottleScope,
            };
    } catch {
      // Redis down or failing: the per-process counters below decide (fail-closed, per instance).
    }
  }
  gate ??= memoryTake(keys, known, now, cfg);
  if (!gate.allowed) signInThrottleCounts.refused[gate.scope] += 1;
  return gate;
}

/**
 * The outcome of an attempt `takeSignInAttempt` let through. A success clears the pair and refunds
 * the client and account counts; a failure stays counted and is logged when it starts a back-off
 * or reaches a limit.
 */
export async function settleSignInAttempt(
  s: AttemptSubject,
  ok: boolean,
  counts: AttemptCounts,
  now = Date.now(),
  deps: ThrottleDeps = appThrottleDeps(),
): Promise<void> {
  const keys = keysOf(s);
  const known = s.device !== null;
  if (ok) {
    memorySucceed(keys, known, now);
    const r = throttleRedis(deps.redis);
    if (r) {
      try {
        await r.qcSignInSucceed(keys.pair, keys.client, keys.account, known ? "1" : "0");
      } catch {
        // The counts expire by themselves; the success stands.
      }
    }
    return;
  }
  const cfg = deps.config;
  const who = `account ${s.account} ${known ? "on a known device" : `from client ${s.client}`}`;
  if (counts.pair >= cfg.free) {
    if (counts.pair === cfg.free) signInThrottleCounts.lockouts.pair += 1;
    console.warn(
      `[signIn] throttled: ${who}: ${counts.pair} failures, next attempt in ${Math.round(backoffMs(counts.pair, cfg) / 1000)} s`,
    );
  }
  if (!known && counts.client === cfg.clientMax) {
    signInThrottleCounts.lockouts.client += 1;
    console.warn(
      `[signIn] throttled: client ${s.client} reached ${cfg.clientMax} failures in ${cfg.clientWindowSeconds} s (all accounts)`,
    );
  }
  if (!known && counts.account === cfg.accountMax) {
    signInThrottleCounts.lockouts.account += 1;
    console.warn(
      `[signIn] throttled: account ${s.account} reached ${cfg.accountMax} failures from unrecognised devices in ${cfg.accountWindowSeconds} s: ` +
        "only its known devices can sign in until the window ends",
    );
  }
}
