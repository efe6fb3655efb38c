import Redis from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { QuotaCache, QUOTA_FIELDS, type QuotaCacheEntry } from "@/lib/billing/quota-cache";
import { billingKeys } from "@/lib/redis/keys";
import { testEnv } from "../support/test-env";

/**
 * Byte-level contract of the quota hash with the Go gateway (spec §6): what we write is exactly
 * what Go's SetUserPlatformQuotaCache writes, what Go and Redis write parses, and the increment
 * script keeps the gateway's guards.
 */
let r: Redis;
let cache: QuotaCache;
const U = 900_000 + Math.floor(Math.random() * 1000);
const key = (p: string, u = U) => billingKeys.userPlatformQuota(u, p);

const entry = (over: Partial<QuotaCacheEntry> = {}): QuotaCacheEntry => ({
  dailyUsage: 0.5,
  weeklyUsage: 1e-7,
  monthlyUsage: 1e21,
  version: 7,
  schemaVersion: 1,
  dailyLimit: 20,
  weeklyLimit: null,
  monthlyLimit: 0,
  dailyWindowStart: Date.parse("2026-11-27T00:00:00+08:00"),
  weeklyWindowStart: null,
  monthlyWindowStart: Date.parse("2026-11-20T08:15:30.750Z"),
  ...over,
});

beforeAll(() => {
  r = new Redis(testEnv().redisUrl);
  cache = new QuotaCache(r);
});
afterEach(async () => {
  const keys = await r.keys(`billing:user_platform_quota:${U}:*`);
  if (keys.length) await r.del(...keys);
  await r.del(billingKeys.dirtySet);
});
afterAll(async () => {
  await r.quit();
});

describe("Set writes the gateway's bytes", () => {
  it("all 11 fields in Go's order and encodings, TTL as given", async () => {
    await cache.set(U, "anthropic", entry(), 86400);
    const raw = await r.hgetall(key("anthropic"));
    expect(Object.entries(raw)).toEqual([
      ["daily_usage", "0.5"],
      ["weekly_usage", "0.0000001"],
      ["monthly_usage", "1000000000000000000000"],
      ["version", "7"],
      ["schema_version", "1"],
      ["daily_limit", "20"],
      ["weekly_limit", ""],
      ["monthly_limit", "0"],
      ["daily_window_start", "1795708800"],
      ["weekly_window_start", ""],
      ["monthly_window_start", "1795162530"],
    ]);
    expect(Object.keys(raw)).toEqual([...QUOTA_FIELDS]);
    expect(await r.ttl(key("anthropic"))).toBeGreaterThanOrEqual(86399);
    expect(await r.ttl(key("anthropic"))).toBeLessThanOrEqual(86400);
  });

  it("round-trips through Get (nil limit → nil, UTC second-precision instants)", async () => {
    await cache.set(U, "openai", entry(), 3600);
    expect(await cache.get(U, "openai")).toEqual({
      ...entry(),
      monthlyWindowStart: Date.parse("2026-11-20T08:15:30Z"),
    });
  });

  it("a miss is null, and Delete makes it a miss", async () => {
    expect(await cache.get(U, "gemini")).toBeNull();
    await cache.set(U, "gemini", entry(), 60);
    await cache.delete(U, "gemini");
    expect(await cache.get(U, "gemini")).toBeNull();
  });

  it("refuses to write a non-numeric usage (the increment script has no rollback)", async () => {
    await expect(cache.set(U, "grok", entry({ dailyUsage: NaN }), 60)).rejects.toThrow(/finite/);
    expect(await r.exists(key("grok"))).toBe(0);
  });
});

describe("reading what Go and Redis wrote", () => {
  it("parses a Go-written hash with HINCRBYFLOAT outputs, empty strings and junk as Go does", async () => {
    await r.hset(key("kimi"), {
      daily_usage: "0",
      weekly_usage: "",
      monthly_usage: "abc",
      version: "3",
      schema_version: "1",
      daily_limit: "10.5",
      weekly_limit: "",
      monthly_limit: "oops",
      daily_window_start: "1795708800",
      weekly_window_start: "",
      monthly_window_start: "x",
    });
    for (let i = 0; i < 3; i++) await r.hincrbyfloat(key("kimi"), "daily_usage", "0.1");
    const stored = await r.hget(key("kimi"), "daily_usage");
    const e = (await cache.get(U, "kimi"))!;
    expect(e.dailyUsage).toBe(Number(stored));
    expect(e.dailyUsage).toBeCloseTo(0.3, 12);
    expect(e).toMatchObject({
      weeklyUsage: 0,
      monthlyUsage: 0,
      version: 3,
      schemaVersion: 1,
      dailyLimit: 10.5,
      weeklyLimit: null,
      monthlyLimit: null,
      dailyWindowStart: 1795708800_000,
      weeklyWindowStart: null,
      monthlyWindowStart: null,
    });
  });

  it("a legacy hash (no schema_version) is a hit with schema 0", async () => {
    await r.hset(key("zhipu"), { daily_usage: "1", version: "0" });
    expect((await cache.get(U, "zhipu"))!.schemaVersion).toBe(0);
  });
});

describe("the increment script (spec §6.2)", () => {
  it("is a no-op on a missing key — the key stays absent", async () => {
    expect(await cache.increment(U, "deepseek", 1.25, 86400, true)).toBe(false);
    expect(await r.exists(key("deepseek"))).toBe(0);
    expect(await r.exists(billingKeys.dirtySet)).toBe(0);
  });

  it("is a no-op on a legacy schema (missing or other schema_version)", async () => {
    await r.hset(key("openai"), { daily_usage: "1", weekly_usage: "1", monthly_usage: "1", version: "0" });
    await r.hset(key("gemini"), { daily_usage: "1", weekly_usage: "1", monthly_usage: "1", version: "0", schema_version: "2" });
    expect(await cache.increment(U, "openai", 1, 86400, false)).toBe(false);
    expect(await cache.increment(U, "gemini", 1, 86400, false)).toBe(false);
    expect(await r.hget(key("openai"), "daily_usage")).toBe("1");
    expect(await r.hget(key("gemini"), "version")).toBe("0");
  });

  it("0.5 + 0.25 → all three usages 0.75, version 1 → 3, TTL reset; Go-formatted cost", async () => {
    await cache.set(U, "anthropic", entry({ dailyUsage: 0, weeklyUsage: 0, monthlyUsage: 0, version: 1 }), 100);
    expect(await cache.increment(U, "anthropic", 0.5, 86400, false)).toBe(true);
    expect(await cache.increment(U, "anthropic", 0.25, 86400, false)).toBe(true);
    expect(await r.hmget(key("anthropic"), "daily_usage", "weekly_usage", "monthly_usage", "version")).toEqual(["0.75", "0.75", "0.75", "3"]);
    expect(await r.ttl(key("anthropic"))).toBeGreaterThan(86000);
    expect(await cache.increment(U, "anthropic", 1e-7, 86400, false)).toBe(true); // sent as "0.0000001"
    expect(Number(await r.hget(key("anthropic"), "daily_usage"))).toBeCloseTo(0.7500001, 12);
  });

  it("marks the dirty set only when asked: member '{user}:{platform}', TTL 86400", async () => {
    await cache.set(U, "anthropic", entry(), 86400);
    await cache.increment(U, "anthropic", 1, 86400, false);
    expect(await r.exists(billingKeys.dirtySet)).toBe(0);
    await cache.increment(U, "anthropic", 1, 86400, true);
    expect(await r.smembers(billingKeys.dirtySet)).toEqual([`${U}:anthropic`]);
    expect(await r.ttl(billingKeys.dirtySet)).toBeGreaterThan(86390);
  });
});

describe("our window refresh (better than upstream)", () => {
  it("resets only the expired windows it saw, and never an increment that landed meanwhile", async () => {
    const stale = Date.parse("2020-01-01T00:00:00Z");
    await cache.set(U, "openai", entry({ dailyUsage: 9, weeklyUsage: 9, monthlyUsage: 9, dailyWindowStart: stale, weeklyWindowStart: stale }), 500);
    const newDay = Date.parse("2026-11-27T00:00:00+08:00");
    // Another check refreshed the daily window already and an increment followed.
    await cache.refreshWindows(U, "openai", [{ window: "daily", seenStart: stale, newStart: newDay }], 86400);
    await cache.increment(U, "openai", 2, 86400, false);
    // A slower check that saw the old daily start now refreshes daily + weekly.
    const changed = await cache.refreshWindows(
      U,
      "openai",
      [
        { window: "daily", seenStart: stale, newStart: newDay },
        { window: "weekly", seenStart: stale, newStart: newDay },
      ],
      86400,
    );
    expect(changed).toBe(1); // only weekly: daily is no longer what it saw
    const raw = await r.hgetall(key("openai"));
    expect(raw).toMatchObject({
      daily_usage: "2",
      weekly_usage: "0",
      daily_window_start: "1795708800",
      weekly_window_start: "1795708800",
      daily_limit: "20",
      schema_version: "1",
      version: "0",
    });
    expect(Number(raw.monthly_usage)).toBe(11);
    expect(await r.ttl(key("openai"))).toBeGreaterThan(86000);
  });

  it("does nothing on a missing or legacy entry", async () => {
    expect(await cache.refreshWindows(U, "grok", [{ window: "daily", seenStart: null, newStart: 0 }], 60)).toBe(0);
    expect(await r.exists(key("grok"))).toBe(0);
  });
});

describe("dirty set helpers", () => {
  it("pops, reads many in one pipeline, and re-adds with the TTL", async () => {
    await cache.set(U, "anthropic", entry(), 60);
    await r.sadd(billingKeys.dirtySet, `${U}:anthropic`, `${U}:openai`);
    const popped = (await cache.popDirty(10)).sort();
    expect(popped).toEqual([`${U}:anthropic`, `${U}:openai`]);
    const read = await cache.readMany([key("anthropic"), key("openai")]);
    expect(read[0]!.dailyLimit).toBe(20);
    expect(read[1]).toBeNull();
    await cache.reAddDirty(popped);
    expect((await r.smembers(billingKeys.dirtySet)).sort()).toEqual(popped);
    expect(await r.ttl(billingKeys.dirtySet)).toBeGreaterThan(86390);
  });
});
