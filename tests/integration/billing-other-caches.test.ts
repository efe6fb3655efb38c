import Redis from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import {
  getApiKeyRateLimit,
  invalidateApiKeyRateLimit,
  setApiKeyRateLimit,
  updateApiKeyRateLimitUsage,
} from "@/lib/billing/api-key-rate-cache";
import { deductUserBalance, getUserBalance, invalidateUserBalance, setUserBalance } from "@/lib/billing/balance-cache";
import { parseGoFloat } from "@/lib/billing/encoding";
import { billingKeys } from "@/lib/billing/keys";
import {
  getSubscriptionCache,
  GO_ZERO_TIME_MS,
  invalidateSubscriptionCache,
  setSubscriptionCache,
  updateSubscriptionUsage,
  type SubscriptionCacheData,
} from "@/lib/billing/subscription-cache";

import { testEnv } from "../support/test-env";

// Bytes in Redis are what the Go gateway reads and writes, so these tests compare the raw strings
// and TTLs a go-redis client would see, not just our own round trips.

let redis: Redis;
const used = new Set<string>();
let nextId = 7_000_000_000 + Math.floor(Math.random() * 1_000_000_000);
function fresh(): number {
  return nextId++;
}
function balanceKey(userId: number) {
  const k = billingKeys.balance(userId);
  used.add(k);
  return k;
}
function subKey(userId: number, groupId: number) {
  const k = billingKeys.subscription(userId, groupId);
  used.add(k);
  return k;
}
function rateKey(apiKeyId: number) {
  const k = billingKeys.apiKeyRateLimit(apiKeyId);
  used.add(k);
  return k;
}
/** Parses as Go's strconv.ParseFloat would (fails the test if Go could not). */
function goFloat(s: string | null | undefined): number {
  const v = parseGoFloat(s ?? "");
  expect(v, `Go cannot parse ${JSON.stringify(s)}`).not.toBeNull();
  return v!;
}
async function expectJitteredTtl(key: string) {
  const ttl = await redis.ttl(key);
  expect(ttl).toBeGreaterThanOrEqual(270);
  expect(ttl).toBeLessThanOrEqual(300);
}

beforeAll(() => {
  redis = new Redis(testEnv().redisUrl);
});
afterEach(async () => {
  if (used.size) await redis.del(...used);
  used.clear();
});
afterAll(async () => {
  await redis.quit();
});

describe("billing:balance:{userID}", () => {
  it("SET writes the Go float with a jittered TTL in (270 s, 300 s]", async () => {
    const id = fresh();
    const key = balanceKey(id);
    await setUserBalance(redis, id, 12.5);
    expect(await redis.get(key)).toBe("12.5");
    await expectJitteredTtl(key);
    const pttl = await redis.pttl(key);
    expect(pttl).toBeGreaterThan(269_000);
    expect(pttl).toBeLessThanOrEqual(300_000);
    expect(await getUserBalance(redis, id)).toBe(12.5);
  });

  it("uses EX for a whole-second TTL and PX otherwise, like go-redis", async () => {
    const id = fresh();
    const key = balanceKey(id);
    await setUserBalance(redis, id, 1, () => 0); // 300 000 ms → EX 300
    expect(await redis.ttl(key)).toBe(300);
    await setUserBalance(redis, id, 1, () => 0.5); // 285 000 ms → EX 285
    expect(await redis.ttl(key)).toBe(285);
    await setUserBalance(redis, id, 1, () => 0.999999); // 270 001 ms → PX 270001
    const pttl = await redis.pttl(key);
    expect(pttl).toBeGreaterThan(269_500);
    expect(pttl).toBeLessThanOrEqual(270_001);
  });

  it("never uses exponent notation: tiny and huge floats, negatives and zero", async () => {
    const cases: [number, string][] = [
      [1e-7, "0.0000001"],
      [1e21, "1000000000000000000000"],
      [-3.75, "-3.75"],
      [0, "0"],
      [0.1 + 0.2, "0.30000000000000004"],
    ];
    for (const [value, bytes] of cases) {
      const id = fresh();
      await setUserBalance(redis, id, value);
      expect(await redis.get(balanceKey(id))).toBe(bytes);
      expect(await getUserBalance(redis, id)).toBe(value);
    }
  });

  it("reads a miss as null and fails like Go's ParseFloat on a bad value", async () => {
    const id = fresh();
    const key = balanceKey(id);
    expect(await getUserBalance(redis, id)).toBeNull();
    await redis.set(key, "abc");
    await expect(getUserBalance(redis, id)).rejects.toThrow(/invalid syntax/);
    await redis.set(key, "1e400");
    await expect(getUserBalance(redis, id)).rejects.toThrow(/out of range/);
    await redis.set(key, "1.5e3"); // Go accepts exponent forms written by other tools
    expect(await getUserBalance(redis, id)).toBe(1500);
  });

  it("deduct on a missing key returns 0 and writes nothing", async () => {
    const id = fresh();
    const key = balanceKey(id);
    expect(await deductUserBalance(redis, id, 2.25)).toBe(0);
    expect(await redis.exists(key)).toBe(0);
  });

  it("deduct subtracts in Lua and resets the TTL into the jittered range", async () => {
    const id = fresh();
    const key = balanceKey(id);
    await redis.set(key, "10"); // no TTL, as if written long ago
    expect(await deductUserBalance(redis, id, 2.25)).toBe(1);
    expect(goFloat(await redis.get(key))).toBe(7.75);
    await expectJitteredTtl(key);
    expect(await getUserBalance(redis, id)).toBe(7.75);

    await redis.set(key, "0.3");
    await deductUserBalance(redis, id, 0.1);
    // Redis prints the Lua number itself (format varies by version); Go only ever parses it.
    expect(goFloat(await redis.get(key))).toBe(0.3 - 0.1);
  });

  it("deduct fails (as in Go) when the stored value is not a number", async () => {
    const id = fresh();
    await redis.set(balanceKey(id), "abc");
    await expect(deductUserBalance(redis, id, 1)).rejects.toThrow();
  });

  it("invalidate deletes the key", async () => {
    const id = fresh();
    await setUserBalance(redis, id, 5);
    await invalidateUserBalance(redis, id);
    expect(await redis.exists(balanceKey(id))).toBe(0);
  });
});

describe("billing:sub:{userID}:{groupID}", () => {
  const sample: SubscriptionCacheData = {
    status: "active",
    expiresAtMs: 1_767_225_600_000,
    dailyUsage: 1.5,
    weeklyUsage: 1e-7,
    monthlyUsage: 12,
    version: 1_750_000_000,
  };

  it("writes exactly the six Go-encoded fields with a jittered TTL, and reads them back", async () => {
    const [u, g] = [fresh(), fresh()];
    const key = subKey(u, g);
    await setSubscriptionCache(redis, u, g, { ...sample, expiresAtMs: sample.expiresAtMs + 999 });
    expect(await redis.hgetall(key)).toEqual({
      status: "active",
      expires_at: "1767225600",
      daily_usage: "1.5",
      weekly_usage: "0.0000001",
      monthly_usage: "12",
      version: "1750000000",
    });
    expect(await redis.type(key)).toBe("hash");
    await expectJitteredTtl(key);
    expect(await getSubscriptionCache(redis, u, g)).toEqual(sample);
  });

  it("floors sub-second instants like Go's Unix(), also before 1970", async () => {
    const [u, g] = [fresh(), fresh()];
    await setSubscriptionCache(redis, u, g, { ...sample, expiresAtMs: -1500 });
    expect(await redis.hget(subKey(u, g), "expires_at")).toBe("-2");
  });

  it("reads a miss as null and an entry without status as Go's parse error", async () => {
    const [u, g] = [fresh(), fresh()];
    const key = subKey(u, g);
    expect(await getSubscriptionCache(redis, u, g)).toBeNull();
    await setSubscriptionCache(redis, u, g, { ...sample, status: "" });
    expect(await redis.hget(key, "status")).toBe("");
    await expect(getSubscriptionCache(redis, u, g)).rejects.toThrow("invalid cache: missing status");
    await redis.del(key);
    await redis.hset(key, "daily_usage", "1");
    await expect(getSubscriptionCache(redis, u, g)).rejects.toThrow("invalid cache: missing status");
  });

  it("tolerates missing or garbled fields the way Go does (zero time, 0)", async () => {
    const [u, g] = [fresh(), fresh()];
    await redis.hset(subKey(u, g), "status", "active", "expires_at", "soon", "daily_usage", "x", "version", "1.5");
    expect(await getSubscriptionCache(redis, u, g)).toEqual({
      status: "active",
      expiresAtMs: GO_ZERO_TIME_MS,
      dailyUsage: 0,
      weeklyUsage: 0,
      monthlyUsage: 0,
      version: 0,
    });
    // Go's zero time.Time written back is its Unix() value, byte for byte.
    const [u2, g2] = [fresh(), fresh()];
    await setSubscriptionCache(redis, u2, g2, { ...sample, expiresAtMs: GO_ZERO_TIME_MS });
    expect(await redis.hget(subKey(u2, g2), "expires_at")).toBe("-62135596800");
  });

  it("HINCRBYFLOATs all three usages; 0.1 three times parses as 0.3 and the TTL is reset", async () => {
    const [u, g] = [fresh(), fresh()];
    const key = subKey(u, g);
    await setSubscriptionCache(redis, u, g, { ...sample, dailyUsage: 0, weeklyUsage: 0, monthlyUsage: 0 });
    await redis.expire(key, 5);
    for (let i = 0; i < 3; i++) expect(await updateSubscriptionUsage(redis, u, g, 0.1)).toBe(1);
    const h = await redis.hgetall(key);
    for (const f of ["daily_usage", "weekly_usage", "monthly_usage"])
      expect(Math.abs(goFloat(h[f]) - 0.3)).toBeLessThan(1e-12);
    expect(h.status).toBe("active");
    expect(h.version).toBe("1750000000");
    await expectJitteredTtl(key);
    const read = await getSubscriptionCache(redis, u, g);
    expect(read?.dailyUsage).toBeCloseTo(0.3, 12);
  });

  it("update on a missing key is a no-op returning 0", async () => {
    const [u, g] = [fresh(), fresh()];
    expect(await updateSubscriptionUsage(redis, u, g, 1)).toBe(0);
    expect(await redis.exists(subKey(u, g))).toBe(0);
  });

  it("invalidate deletes the key", async () => {
    const [u, g] = [fresh(), fresh()];
    await setSubscriptionCache(redis, u, g, sample);
    await invalidateSubscriptionCache(redis, u, g);
    expect(await redis.exists(subKey(u, g))).toBe(0);
  });
});

describe("apikey:rate:{apiKeyID}", () => {
  const NOW_S = 1_750_000_000;

  it('writes six Go-encoded fields (null window → "0") with the 7-day TTL', async () => {
    const id = fresh();
    const key = rateKey(id);
    await setApiKeyRateLimit(redis, id, {
      usage5h: 0.5,
      usage1d: 1e21,
      usage7d: 0,
      window5h: null,
      window1d: NOW_S - 100,
      window7d: null,
    });
    expect(await redis.hgetall(key)).toEqual({
      usage_5h: "0.5",
      usage_1d: "1000000000000000000000",
      usage_7d: "0",
      window_5h: "0",
      window_1d: String(NOW_S - 100),
      window_7d: "0",
    });
    const ttl = await redis.ttl(key);
    expect(ttl).toBeGreaterThanOrEqual(604_799);
    expect(ttl).toBeLessThanOrEqual(604_800);
    expect(await getApiKeyRateLimit(redis, id)).toEqual({
      usage5h: 0.5,
      usage1d: 1e21,
      usage7d: 0,
      window5h: 0,
      window1d: NOW_S - 100,
      window7d: 0,
    });
  });

  it("reads a miss as null and garbled fields as 0, ignoring parse errors like Go", async () => {
    const id = fresh();
    const key = rateKey(id);
    expect(await getApiKeyRateLimit(redis, id)).toBeNull();
    await redis.hset(key, "usage_5h", "abc", "window_5h", "1.5", "usage_1d", "2");
    expect(await getApiKeyRateLimit(redis, id)).toEqual({
      usage5h: 0,
      usage1d: 2,
      usage7d: 0,
      window5h: 0,
      window1d: 0,
      window7d: 0,
    });
  });

  it("update restarts expired and unstarted windows at now and accumulates in live ones", async () => {
    const id = fresh();
    const key = rateKey(id);
    await setApiKeyRateLimit(redis, id, {
      usage5h: 3,
      usage1d: 2,
      usage7d: 1.25,
      window5h: NOW_S - 5 * 3600, // exactly 5 h old → expired (>=)
      window1d: NOW_S - 100, // live
      window7d: null, // never started
    });
    await redis.expire(key, 100);
    expect(await updateApiKeyRateLimitUsage(redis, id, 0.75, NOW_S * 1000 + 999)).toBe(1);
    const h = await redis.hgetall(key);
    expect(h.usage_5h).toBe("0.75");
    expect(h.window_5h).toBe(String(NOW_S)); // now floored to whole seconds
    expect(goFloat(h.usage_1d)).toBe(2.75);
    expect(h.window_1d).toBe(String(NOW_S - 100));
    expect(h.usage_7d).toBe("0.75");
    expect(h.window_7d).toBe(String(NOW_S));
    expect(await redis.ttl(key)).toBeGreaterThanOrEqual(604_799);

    // One second short of 5 h is still live.
    const id2 = fresh();
    await setApiKeyRateLimit(redis, id2, {
      usage5h: 3,
      usage1d: 0,
      usage7d: 0,
      window5h: NOW_S - 5 * 3600 + 1,
      window1d: null,
      window7d: null,
    });
    await updateApiKeyRateLimitUsage(redis, id2, 1, NOW_S * 1000);
    expect(goFloat(await redis.hget(rateKey(id2), "usage_5h"))).toBe(4);
    expect(await redis.hget(rateKey(id2), "window_5h")).toBe(String(NOW_S - 5 * 3600 + 1));
  });

  it("a restarted window stores the cost as Lua's tostring (%.14g), which Go still parses", async () => {
    const cases: [number, string][] = [
      [0.1, "0.1"],
      [1 / 3, "0.33333333333333"],
      [1e-7, "1e-07"],
      [2, "2"],
    ];
    for (const [cost, bytes] of cases) {
      const id = fresh();
      await setApiKeyRateLimit(redis, id, {
        usage5h: 9,
        usage1d: 9,
        usage7d: 9,
        window5h: null,
        window1d: null,
        window7d: null,
      });
      await updateApiKeyRateLimitUsage(redis, id, cost, NOW_S * 1000);
      const h = await redis.hgetall(rateKey(id));
      expect([h.usage_5h, h.usage_1d, h.usage_7d]).toEqual([bytes, bytes, bytes]);
      expect(goFloat(bytes)).toBeCloseTo(cost, 13);
      expect(await getApiKeyRateLimit(redis, id)).toMatchObject({ window5h: NOW_S, window1d: NOW_S, window7d: NOW_S });
    }
  });

  it("update on a missing key is a no-op returning 0", async () => {
    const id = fresh();
    expect(await updateApiKeyRateLimitUsage(redis, id, 1, NOW_S * 1000)).toBe(0);
    expect(await redis.exists(rateKey(id))).toBe(0);
  });

  it("invalidate deletes the key", async () => {
    const id = fresh();
    await setApiKeyRateLimit(redis, id, {
      usage5h: 0,
      usage1d: 0,
      usage7d: 0,
      window5h: null,
      window1d: null,
      window7d: null,
    });
    await invalidateApiKeyRateLimit(redis, id);
    expect(await redis.exists(rateKey(id))).toBe(0);
  });
});
