import Redis from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";

import { billingKeys, ledgerKeys } from "@/lib/billing/keys";
import { OpIds } from "@/lib/billing/ledger";
import {
  decodeQuotaValues,
  QUOTA_FIELDS,
  QUOTA_SCRIPTS,
  QuotaCache,
  type QuotaCacheEntry,
} from "@/lib/billing/quota-cache";

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
const ids = new OpIds();
const INC = { ttlSeconds: 86400, markDirty: false, leaseMs: 30_000 };
afterEach(async () => {
  const keys = [...(await r.keys(`billing:user_platform_quota:${U}:*`)), ...(await r.keys(`qc:billing:*`))];
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
      malformed: null,
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
    // Read as Go reads them, and flagged so they can be counted and repaired.
    expect(e.malformed).toEqual(["weekly_usage", "monthly_usage", "monthly_limit", "monthly_window_start"]);
  });

  it("reads hex floats, 1e400 and NaN exactly as Go's strconv does (and flags them)", async () => {
    await r.hset(key("grok"), {
      daily_usage: "1e400", // ParseFloat: ErrRange → Go's reader uses 0
      weekly_usage: "0x1p-2", // 0.25
      monthly_usage: "2",
      version: "0",
      schema_version: "1",
      daily_limit: "0x1p-2", // 0.25, not "unlimited"
      weekly_limit: "NaN", // a NaN limit never blocks (usage >= NaN is false), as in Go
      monthly_limit: "1e400", // range error → nil
      daily_window_start: "1795708800",
      weekly_window_start: "+1795708800",
      monthly_window_start: "1795708800",
    });
    const e = (await cache.get(U, "grok"))!;
    expect(e.dailyUsage).toBe(0);
    expect(e.weeklyUsage).toBe(0.25);
    expect(e.dailyLimit).toBe(0.25);
    expect(Number.isNaN(e.weeklyLimit)).toBe(true);
    expect(e.monthlyLimit).toBeNull();
    expect(e.weeklyWindowStart).toBe(1795708800_000);
    expect(e.malformed).toEqual([
      "daily_usage",
      "weekly_usage",
      "daily_limit",
      "weekly_limit",
      "monthly_limit",
      "weekly_window_start",
    ]);
  });

  it("a legacy hash (no schema_version) is a hit with schema 0", async () => {
    await r.hset(key("zhipu"), { daily_usage: "1", version: "0" });
    expect((await cache.get(U, "zhipu"))!.schemaVersion).toBe(0);
  });

  it("the check's HMGET read decodes every hash above exactly as Get's HGETALL does", async () => {
    const hashes: Record<string, Record<string, string>> = {
      kimi: {
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
      },
      grok: {
        daily_usage: "1e400",
        weekly_usage: "0x1p-2",
        monthly_usage: "2",
        version: "0",
        schema_version: "1",
        daily_limit: "0x1p-2",
        weekly_limit: "NaN",
        monthly_limit: "1e400",
        daily_window_start: "1795708800",
        weekly_window_start: "+1795708800",
        monthly_window_start: "1795708800",
      },
      zhipu: { daily_usage: "1", version: "0" }, // legacy
      gemini: { daily_limit: "5", schema_version: "1" }, // usages and version missing: still a hit
    };
    for (const [p, h] of Object.entries(hashes)) await r.hset(key(p), h);
    await cache.set(U, "openai", entry(), 60);
    for (const p of [...Object.keys(hashes), "openai"]) {
      expect(await cache.get(U, p)).not.toBeNull();
      expect(decodeQuotaValues(await cache.readValues(U, p)), p).toEqual(await cache.get(U, p));
    }
    // Absent: a miss both ways.
    expect(decodeQuotaValues(await cache.readValues(U, "antigravity"))).toBeNull();
    // Only foreign fields: upstream's HGETALL calls it a legacy hit (schema 0), which the check handles
    // exactly as a miss (spec §5.2 step 3); the HMGET read calls it a miss.
    await r.hset(key("deepseek"), { some_future_field: "1" });
    expect((await cache.get(U, "deepseek"))!.schemaVersion).toBe(0);
    expect(decodeQuotaValues(await cache.readValues(U, "deepseek"))).toBeNull();
  });
});

describe("the increment script (spec §6.2): the gateway's effect, at most once per op", () => {
  it("is a no-op on a missing key — the key stays absent — and takes a lease on the key", async () => {
    const op = ids.next();
    expect(await cache.increment(U, "deepseek", 1.25, op, { ...INC, markDirty: true })).toBe("noop");
    expect(await r.exists(key("deepseek"))).toBe(0);
    expect(await r.exists(billingKeys.dirtySet)).toBe(0);
    const lease = Number(await r.hget(ledgerKeys.fence(U, "deepseek"), `l:${op.id}`));
    expect(lease).toBeGreaterThan(Date.now() + 25_000);
    expect(await cache.opState(op)).toBe(2);
  });

  it("is a no-op on a legacy schema (missing or other schema_version)", async () => {
    await r.hset(key("openai"), { daily_usage: "1", weekly_usage: "1", monthly_usage: "1", version: "0" });
    await r.hset(key("gemini"), {
      daily_usage: "1",
      weekly_usage: "1",
      monthly_usage: "1",
      version: "0",
      schema_version: "2",
    });
    expect(await cache.increment(U, "openai", 1, ids.next(), INC)).toBe("noop");
    expect(await cache.increment(U, "gemini", 1, ids.next(), INC)).toBe("noop");
    expect(await r.hget(key("openai"), "daily_usage")).toBe("1");
    expect(await r.hget(key("gemini"), "version")).toBe("0");
  });

  it("0.5 + 0.25 → all three usages 0.75, version 1 → 3, TTL reset; Go-formatted cost", async () => {
    await cache.set(U, "anthropic", entry({ dailyUsage: 0, weeklyUsage: 0, monthlyUsage: 0, version: 1 }), 100);
    expect(await cache.increment(U, "anthropic", 0.5, ids.next(), INC)).toBe("applied");
    expect(await cache.increment(U, "anthropic", 0.25, ids.next(), INC)).toBe("applied");
    expect(await r.hmget(key("anthropic"), "daily_usage", "weekly_usage", "monthly_usage", "version")).toEqual([
      "0.75",
      "0.75",
      "0.75",
      "3",
    ]);
    expect(await r.ttl(key("anthropic"))).toBeGreaterThan(86000);
    expect(await cache.increment(U, "anthropic", 1e-7, ids.next(), INC)).toBe("applied"); // sent as "0.0000001"
    expect(Number(await r.hget(key("anthropic"), "daily_usage"))).toBeCloseTo(0.7500001, 12);
  });

  it("leaves exactly the bytes the gateway's own script leaves on the same hash", async () => {
    const start = entry({ dailyUsage: 0.1, weeklyUsage: 2, monthlyUsage: 3.3, version: 4 });
    await cache.set(U, "anthropic", start, 100);
    await cache.set(U, "openai", start, 100);
    for (const cost of [0.5, 1e-7, 123.456789, 0.3]) {
      expect(await cache.increment(U, "anthropic", cost, ids.next(), { ...INC, markDirty: true })).toBe("applied");
      const goCost = String(cost === 1e-7 ? "0.0000001" : cost);
      await QUOTA_SCRIPTS.gatewayIncrement.run(
        r,
        [key("openai"), billingKeys.dirtySet],
        [goCost, "86400", "1", `${U}:openai`, "86400"],
      );
    }
    const ours = await r.hgetall(key("anthropic"));
    const theirs = await r.hgetall(key("openai"));
    expect(Object.entries(ours)).toEqual(Object.entries(theirs));
    expect((await r.smembers(billingKeys.dirtySet)).sort()).toEqual([`${U}:anthropic`, `${U}:openai`]);
  });

  it("applies an op at most once: a second delivery of the same op reports what the first did", async () => {
    await cache.set(U, "anthropic", entry({ dailyUsage: 0, weeklyUsage: 0, monthlyUsage: 0, version: 0 }), 100);
    const op = ids.next();
    expect(await cache.increment(U, "anthropic", 2, op, INC)).toBe("applied");
    expect(await cache.increment(U, "anthropic", 2, op, INC)).toBe("seen-applied");
    expect(await r.hget(key("anthropic"), "daily_usage")).toBe("2");
    const missing = ids.next();
    expect(await cache.increment(U, "kimi", 1, missing, INC)).toBe("noop");
    await cache.set(U, "kimi", entry(), 100); // the key appears (a rebuild) — the op must not apply now
    expect(await cache.increment(U, "kimi", 1, missing, INC)).toBe("seen-noop");
    expect(await r.hget(key("kimi"), "daily_usage")).toBe("0.5");
  });

  it("refuses a hash whose usage or version bytes it could not process, without a partial write", async () => {
    await cache.set(U, "zhipu", entry(), 100);
    await r.hset(key("zhipu"), "weekly_usage", "garbage"); // HINCRBYFLOAT would fail half-way
    const op = ids.next();
    expect(await cache.increment(U, "zhipu", 1, op, INC)).toBe("malformed");
    expect(await r.hmget(key("zhipu"), "daily_usage", "weekly_usage", "version")).toEqual(["0.5", "garbage", "7"]);
    expect(await r.hexists(ledgerKeys.fence(U, "zhipu"), `l:${op.id}`)).toBe(1);
  });

  it("a cancelled op can never apply; invalidate drops the key and moves the fence generation", async () => {
    await cache.set(U, "grok", entry(), 100);
    const op = ids.next();
    expect(await cache.invalidate(U, "grok", op)).toBe(0); // never seen → cancelled
    expect(await r.exists(key("grok"))).toBe(0);
    expect(await r.hget(ledgerKeys.fence(U, "grok"), "gen")).toBe("1");
    await cache.set(U, "grok", entry(), 100);
    expect(await cache.increment(U, "grok", 5, op, INC)).toBe("seen-cancelled"); // the late delivery
    expect(await r.hget(key("grok"), "daily_usage")).toBe("0.5");
  });

  it("marks the dirty set only when asked: member '{user}:{platform}', TTL 86400", async () => {
    await cache.set(U, "anthropic", entry(), 86400);
    await cache.increment(U, "anthropic", 1, ids.next(), INC);
    expect(await r.exists(billingKeys.dirtySet)).toBe(0);
    await cache.increment(U, "anthropic", 1, ids.next(), { ...INC, markDirty: true });
    expect(await r.smembers(billingKeys.dirtySet)).toEqual([`${U}:anthropic`]);
    expect(await r.ttl(billingKeys.dirtySet)).toBeGreaterThan(86390);
  });
});

describe("fenced rebuilds (quota-set-fenced.lua)", () => {
  it("writes the gateway's bytes when nothing fences it, and never over a current entry", async () => {
    expect(await cache.setFenced(U, "anthropic", entry(), 86400, "")).toBe("written");
    expect(Object.keys(await r.hgetall(key("anthropic")))).toEqual([...QUOTA_FIELDS]);
    expect(await cache.setFenced(U, "anthropic", entry({ dailyUsage: 99 }), 86400, "")).toBe("exists");
    expect(await r.hget(key("anthropic"), "daily_usage")).toBe("0.5");
  });

  it("is discarded when the generation moved since it was read, or an op holds a live lease", async () => {
    const gen = await cache.fenceGeneration(U, "openai");
    await cache.invalidate(U, "openai"); // e.g. a usage op committed meanwhile
    expect(await cache.setFenced(U, "openai", entry(), 86400, gen)).toBe("fenced-generation");
    expect(await r.exists(key("openai"))).toBe(0);
    const gen2 = await cache.fenceGeneration(U, "openai");
    expect(await cache.increment(U, "openai", 1, ids.next(), INC)).toBe("noop"); // lease taken
    expect(await cache.setFenced(U, "openai", entry(), 86400, gen2)).toBe("fenced-lease");
    expect(await r.exists(key("openai"))).toBe(0);
  });

  it("prunes an expired lease (its owner died) and then writes", async () => {
    await r.hset(ledgerKeys.fence(U, "gemini"), "l:dead.1", String(Date.now() - 1));
    expect(await cache.setFenced(U, "gemini", entry(), 86400, "")).toBe("written");
    expect(await r.hexists(ledgerKeys.fence(U, "gemini"), "l:dead.1")).toBe(0);
  });
});

describe("admin changes in place (flusher mode, quota-admin-apply.lua)", () => {
  it("rewrites limits, keeps usage and windows", async () => {
    await cache.set(U, "anthropic", entry({ dailyUsage: 3 }), 86400);
    expect(await cache.applyLimits(U, "anthropic", { daily: 1.5, weekly: null, monthly: 100 })).toBe(true);
    expect(await r.hmget(key("anthropic"), "daily_usage", "daily_limit", "weekly_limit", "monthly_limit")).toEqual([
      "3",
      "1.5",
      "",
      "100",
    ]);
    expect(await cache.applyLimits(U, "kimi", { daily: 1, weekly: 1, monthly: 1 })).toBe(false); // no entry: nothing to change
    expect(await r.exists(key("kimi"))).toBe(0);
  });

  it("resets one window at most once per reset id, and marks the key dirty", async () => {
    await cache.set(U, "openai", entry({ dailyUsage: 3, weeklyUsage: 4 }), 86400);
    const start = Date.parse("2026-11-27T00:00:00+08:00");
    expect(await cache.applyReset(U, "openai", "daily", start, "r1")).toBe("applied");
    await cache.increment(U, "openai", 2, ids.next(), INC);
    expect(await cache.applyReset(U, "openai", "daily", start, "r1")).toBe("already"); // a retry keeps the 2
    expect(await r.hmget(key("openai"), "daily_usage", "weekly_usage", "daily_window_start")).toEqual([
      "2",
      "6",
      "1795708800",
    ]);
    expect(await r.smembers(billingKeys.dirtySet)).toEqual([`${U}:openai`]);
  });

  it("replaces an entry and hands back the usage it held", async () => {
    await cache.set(U, "gemini", entry({ dailyUsage: 3, weeklyUsage: 4, monthlyUsage: 5 }), 86400);
    const old = await cache.replace(
      U,
      "gemini",
      entry({
        dailyUsage: 0,
        weeklyUsage: 0,
        monthlyUsage: 0,
        dailyLimit: null,
        weeklyLimit: null,
        monthlyLimit: null,
      }),
      3600,
    );
    expect(old).toEqual({
      usage: [3, 4, 5],
      starts: [Date.parse("2026-11-27T00:00:00+08:00"), null, Date.parse("2026-11-20T08:15:30Z")],
    });
    expect(await r.hmget(key("gemini"), "daily_usage", "daily_limit")).toEqual(["0", ""]);
    expect(await r.ttl(key("gemini"))).toBeLessThanOrEqual(3600);
  });
});

describe("our window refresh (better than upstream)", () => {
  it("resets only the expired windows it saw, and never an increment that landed meanwhile", async () => {
    const stale = Date.parse("2020-01-01T00:00:00Z");
    await cache.set(
      U,
      "openai",
      entry({ dailyUsage: 9, weeklyUsage: 9, monthlyUsage: 9, dailyWindowStart: stale, weeklyWindowStart: stale }),
      500,
    );
    const newDay = Date.parse("2026-11-27T00:00:00+08:00");
    // Another check refreshed the daily window already and an increment followed.
    await cache.refreshWindows(U, "openai", [{ window: "daily", seenStart: stale, newStart: newDay }], 86400);
    await cache.increment(U, "openai", 2, ids.next(), INC);
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

describe("the journal of parked ops", () => {
  it("a repairer whose claim ran out cannot write the entry: only the new claimer's renew succeeds", async () => {
    const op = { id: "e1.7", userId: U, platform: "openai" };
    await cache.journalAdd(op, '{"x":1}', 0, { ms: 30_000 });
    expect(await cache.journalClaim(10, 100, "A")).toEqual([{ id: "e1.7", payload: '{"x":1}' }]);
    expect(await cache.journalClaim(10, 100, "B")).toEqual([]); // claimed: not due
    await new Promise((res) => setTimeout(res, 150)); // A is slow: its claim runs out …
    expect(await cache.journalClaim(10, 100, "B")).toEqual([{ id: "e1.7", payload: '{"x":1}' }]);
    expect(await cache.journalRenew("e1.7", "A", 60_000)).toBeNull(); // … so A must not write it
    expect(await cache.journalRenew("e1.7", "B", 60_000)).toBe('{"x":1}');
    await cache.journalAdd(op, '{"x":1,"txid":"9"}', 0, null); // rescheduled: the claim is released
    expect(await cache.journalRenew("e1.7", "B", 60_000)).toBeNull();
    await cache.journalDone("e1.7");
    expect(await cache.journalSize()).toBe(0);
  });
});

describe("the crash-safe flusher's dirty-set steps", () => {
  it("claims into a processing set, requeues with the TTL, and recovers a dead flusher's members", async () => {
    await cache.set(U, "anthropic", entry(), 60);
    await r.sadd(billingKeys.dirtySet, `${U}:anthropic`, `${U}:openai`);
    const popped = (await cache.claimDirty("f1", 10, 200)).sort();
    expect(popped).toEqual([`${U}:anthropic`, `${U}:openai`]);
    expect(await r.scard(billingKeys.dirtySet)).toBe(0);
    expect((await r.smembers(ledgerKeys.flushing("f1"))).sort()).toEqual(popped);
    const read = await cache.readMany([key("anthropic"), key("openai")]);
    expect(read[0]!.dailyLimit).toBe(20);
    expect(read[1]).toBeNull();
    await cache.requeueDirty("f1", [`${U}:openai`]);
    expect(await r.smembers(billingKeys.dirtySet)).toEqual([`${U}:openai`]);
    expect(await r.ttl(billingKeys.dirtySet)).toBeGreaterThan(86390);
    // f1 "dies" with anthropic still in flight: nothing comes back while its heartbeat lives …
    expect(await cache.recoverDeadFlushers()).toBe(0);
    await new Promise((res) => setTimeout(res, 250));
    // … and everything once it has expired.
    expect(await cache.recoverDeadFlushers()).toBe(1);
    expect((await r.smembers(billingKeys.dirtySet)).sort()).toEqual(popped);
    expect(await r.exists(ledgerKeys.flushing("f1"))).toBe(0);
    expect(await r.sismember(ledgerKeys.flushers, "f1")).toBe(0);
  });
});
