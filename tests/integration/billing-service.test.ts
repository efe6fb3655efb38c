import Redis from "ioredis";
import type { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { BillingServiceError, QuotaExhaustedError } from "@/lib/billing/errors";
import { billingKeys } from "@/lib/billing/keys";
import type { QuotaCacheEntry } from "@/lib/billing/quota-cache";

import { createUsers, deleteUsers, rawDb, rowText } from "../support/billing";
import { makeBilling } from "../support/billing-runtime";
import { blackholeServer, PrivateRedis } from "../support/redis-server";
import { testEnv } from "../support/test-env";

/**
 * The billing chain against real PostgreSQL and Redis: every path of spec §5.2–§5.3, the
 * better-than-upstream rules (DESIGN §3.1–3.2), concurrency and faults.
 */
let c: Client;
let r: Redis;
let b: ReturnType<typeof makeBilling>;
const users: number[] = [];
const t = (iso: string) => Date.parse(iso);
const NOW = t("2026-11-25T10:00:00+08:00"); // Wednesday
const SOD = t("2026-11-25T00:00:00+08:00");
const SOW = t("2026-11-23T00:00:00+08:00");
const L = (daily: number | null, weekly: number | null = null, monthly: number | null = null) => ({
  daily,
  weekly,
  monthly,
});

async function user(): Promise<number> {
  const [id] = await createUsers(c, "svc", 1);
  users.push(id);
  return id;
}

const entry = (over: Partial<QuotaCacheEntry> = {}): QuotaCacheEntry => ({
  dailyUsage: 0,
  weeklyUsage: 0,
  monthlyUsage: 0,
  version: 0,
  schemaVersion: 1,
  dailyLimit: null,
  weeklyLimit: null,
  monthlyLimit: null,
  dailyWindowStart: SOD,
  weeklyWindowStart: SOW,
  monthlyWindowStart: NOW - 86400_000,
  ...over,
});

beforeAll(async () => {
  c = await rawDb();
  r = new Redis(testEnv().redisUrl);
  b = makeBilling();
});
afterAll(async () => {
  await deleteUsers(c, users);
  const keys = await r.keys("billing:user_platform_quota:*");
  if (keys.length) await r.del(...keys);
  await c.end();
  await r.quit();
  await b.close();
});

describe("cache hit (spec §5.2 step 2)", () => {
  it("allows under the limit (4.5 / 10) and blocks at equality (5 / 5, the check is >=)", async () => {
    const u = await user();
    await b.cache!.set(u, "anthropic", entry({ dailyUsage: 4.5, dailyLimit: 10 }), 86400);
    expect(await b.service.checkUserPlatformQuotaEligibility(u, "anthropic", { now: NOW })).toEqual({
      allowed: true,
      source: "cache",
    });
    await b.cache!.set(u, "anthropic", entry({ dailyUsage: 5, dailyLimit: 5 }), 86400);
    const d = await b.service.checkUserPlatformQuotaEligibility(u, "anthropic", { now: NOW });
    expect(d.allowed).toBe(false);
    const err = (d as { error: QuotaExhaustedError }).error;
    expect(err).toBeInstanceOf(QuotaExhaustedError);
    expect(err).toMatchObject({
      reason: "USER_PLATFORM_DAILY_QUOTA_EXHAUSTED",
      message: "Daily usage quota exhausted for this platform.",
      httpStatus: 429,
      type: "rate_limit_exceeded",
      metadata: { window_resets_at: "2026-11-26T00:00:00+08:00" },
    });
  });

  it("null limit = unlimited (999 used); 0 = disabled from the first request", async () => {
    const u = await user();
    await b.cache!.set(u, "openai", entry({ dailyUsage: 999, weeklyUsage: 999, monthlyUsage: 999 }), 86400);
    expect((await b.service.checkUserPlatformQuotaEligibility(u, "openai", { now: NOW })).allowed).toBe(true);
    await b.cache!.set(u, "gemini", entry({ dailyLimit: 0 }), 86400);
    const d = await b.service.checkUserPlatformQuotaEligibility(u, "gemini", { now: NOW });
    expect(d).toMatchObject({ allowed: false, error: { reason: "USER_PLATFORM_DAILY_QUOTA_EXHAUSTED" } });
  });

  it("checks daily → weekly → monthly; weekly resets Monday 00:00 +08, monthly start + 30 d in UTC", async () => {
    const u = await user();
    await b.cache!.set(
      u,
      "grok",
      entry({ dailyUsage: 1, weeklyUsage: 50, monthlyUsage: 500, dailyLimit: 10, weeklyLimit: 50, monthlyLimit: 100 }),
      86400,
    );
    expect(await b.service.checkUserPlatformQuotaEligibility(u, "grok", { now: NOW })).toMatchObject({
      allowed: false,
      error: {
        reason: "USER_PLATFORM_WEEKLY_QUOTA_EXHAUSTED",
        metadata: { window_resets_at: "2026-11-30T00:00:00+08:00" },
      },
    });
    await b.cache!.set(
      u,
      "grok",
      entry({ monthlyUsage: 100, monthlyLimit: 100, monthlyWindowStart: t("2026-11-20T08:15:30Z") }),
      86400,
    );
    expect(await b.service.checkUserPlatformQuotaEligibility(u, "grok", { now: NOW })).toMatchObject({
      allowed: false,
      error: {
        reason: "USER_PLATFORM_MONTHLY_QUOTA_EXHAUSTED",
        metadata: { window_resets_at: "2026-12-20T08:15:30Z" },
      },
    });
  });

  it("an expired window counts as 0 and the entry is overwritten, not deleted", async () => {
    const u = await user();
    const old = t("2020-01-01T00:00:00Z");
    await b.cache!.set(u, "kimi", entry({ dailyUsage: 50, dailyLimit: 10, dailyWindowStart: old }), 86400);
    expect(await b.service.checkUserPlatformQuotaEligibility(u, "kimi", { now: NOW })).toEqual({
      allowed: true,
      source: "cache",
    });
    const raw = await r.hgetall(billingKeys.userPlatformQuota(u, "kimi"));
    expect(raw).toMatchObject({
      daily_usage: "0",
      daily_limit: "10",
      schema_version: "1",
      daily_window_start: String(SOD / 1000),
    });
  });

  it("a sentinel whose day and week expired is not refreshed (keeps its short TTL)", async () => {
    const u = await user();
    const old = t("2026-11-01T00:00:00Z");
    await b.cache!.set(u, "zhipu", entry({ dailyWindowStart: old, weeklyWindowStart: old }), 3600);
    await r.expire(billingKeys.userPlatformQuota(u, "zhipu"), 1000);
    await b.service.checkUserPlatformQuotaEligibility(u, "zhipu", { now: NOW });
    expect(await r.hget(billingKeys.userPlatformQuota(u, "zhipu"), "daily_window_start")).toBe(String(old / 1000));
    expect(await r.ttl(billingKeys.userPlatformQuota(u, "zhipu"))).toBeLessThanOrEqual(1000);
  });

  it("does not consult the database on a hit (a row saying otherwise is ignored)", async () => {
    const u = await user();
    await b.repo.upsertForUser(u, [{ platform: "deepseek", limits: L(0) }]);
    await b.cache!.set(u, "deepseek", entry({ dailyLimit: 100 }), 86400);
    expect((await b.service.checkUserPlatformQuotaEligibility(u, "deepseek", { now: NOW })).allowed).toBe(true);
  });

  it("skips an empty platform, and subscription-mode requests never touch the quota (check or record)", async () => {
    expect(await b.service.checkUserPlatformQuotaEligibility(1, "", { now: NOW })).toEqual({
      allowed: true,
      source: "skip",
    });
    const u = await user();
    await b.cache!.set(u, "antigravity", entry({ dailyLimit: 0 }), 86400);
    expect(
      await b.service.checkUserPlatformQuotaEligibility(u, "antigravity", { now: NOW, subscriptionMode: true }),
    ).toEqual({
      allowed: true,
      source: "skip",
    });
    expect(
      await b.service.recordUsage({ userId: u, platform: "antigravity", cost: 1, subscriptionMode: true }),
    ).toMatchObject({ recorded: false });
    expect(await r.hget(billingKeys.userPlatformQuota(u, "antigravity"), "version")).toBe("0");
  });
});

describe("cache miss / legacy entry (spec §5.2 step 3)", () => {
  it("no row → allow and exactly one sentinel: all limits '', windows set, schema 1, TTL 3600", async () => {
    const u = await user();
    expect(await b.service.checkUserPlatformQuotaEligibility(u, "openai", { now: NOW })).toEqual({
      allowed: true,
      source: "no-row",
    });
    const key = billingKeys.userPlatformQuota(u, "openai");
    expect(await r.hgetall(key)).toEqual({
      daily_usage: "0",
      weekly_usage: "0",
      monthly_usage: "0",
      version: "0",
      schema_version: "1",
      daily_limit: "",
      weekly_limit: "",
      monthly_limit: "",
      daily_window_start: String(SOD / 1000),
      weekly_window_start: String(SOW / 1000),
      monthly_window_start: String(NOW / 1000),
    });
    const ttl = await r.ttl(key);
    expect(ttl).toBeGreaterThan(3590);
    expect(ttl).toBeLessThanOrEqual(3600);
    // The next check is a cache hit: no second write (the TTL keeps running down).
    await r.expire(key, 1234);
    expect(await b.service.checkUserPlatformQuotaEligibility(u, "openai", { now: NOW })).toEqual({
      allowed: true,
      source: "cache",
    });
    expect(await r.ttl(key)).toBeLessThanOrEqual(1234);
  });

  it("a legacy entry (schema 0) is ignored: the row decides (6 ≥ 5) and the entry is rebuilt as schema 1", async () => {
    const u = await user();
    await b.repo.upsertForUser(u, [{ platform: "gemini", limits: L(5) }]);
    await b.repo.incrementUsageWithReset(u, "gemini", 6, NOW);
    await b.cache!.set(u, "gemini", entry({ schemaVersion: 0, dailyLimit: 100 }), 86400);
    expect(await b.service.checkUserPlatformQuotaEligibility(u, "gemini", { now: NOW + 1000 })).toMatchObject({
      allowed: false,
      source: "database",
      error: { reason: "USER_PLATFORM_DAILY_QUOTA_EXHAUSTED" },
    });
    expect(
      await r.hmget(billingKeys.userPlatformQuota(u, "gemini"), "schema_version", "daily_limit", "daily_usage"),
    ).toEqual(["1", "5", "6"]);
  });

  // Better than upstream (DESIGN §3.1): the gateway copies the row's stale window starts into the
  // rebuilt hash, so the next check zeroes usage recorded in between.
  it("a rebuild keeps live usage and gives expired windows the current start: the next increment survives", async () => {
    const u = await user();
    await b.repo.upsertForUser(u, [{ platform: "anthropic", limits: L(10, 100, 1000) }]); // NULL window starts
    await b.repo.incrementUsageWithReset(u, "anthropic", 3, NOW); // live windows now
    await c.query("UPDATE user_platform_quotas SET weekly_window_start = NULL WHERE user_id = $1", [u]); // a never-initialised window
    expect((await b.service.checkUserPlatformQuotaEligibility(u, "anthropic", { now: NOW + 1000 })).source).toBe(
      "database",
    );
    const key = billingKeys.userPlatformQuota(u, "anthropic");
    expect(await r.hmget(key, "daily_usage", "weekly_usage", "daily_window_start", "weekly_window_start")).toEqual([
      "3",
      "0",
      String(SOD / 1000),
      String(SOW / 1000),
    ]);
    await b.service.recordUsage({ userId: u, platform: "anthropic", cost: 2, now: NOW + 2000 });
    expect((await b.service.checkUserPlatformQuotaEligibility(u, "anthropic", { now: NOW + 3000 })).source).toBe(
      "cache",
    );
    expect(await r.hmget(key, "daily_usage", "weekly_usage")).toEqual(["5", "2"]);
  });

  it("a failed sentinel write still allows, counts the failure once, and leaves no entry", async () => {
    const pr = await PrivateRedis.start();
    const s = makeBilling({ redisUrl: pr.url });
    const admin = new Redis(pr.url);
    try {
      // A full Redis refuses writes but still answers reads: a real partial outage.
      await admin.config("SET", "maxmemory-policy", "noeviction");
      await admin.config("SET", "maxmemory", "1");
      const u = await user();
      expect(await s.service.checkUserPlatformQuotaEligibility(u, "openai", { now: NOW })).toEqual({
        allowed: true,
        source: "no-row",
      });
      expect(s.service.metrics.sentinelWriteErrors).toBe(1);
      await admin.config("SET", "maxmemory", "0");
      expect(await admin.exists(billingKeys.userPlatformQuota(u, "openai"))).toBe(0);
    } finally {
      admin.disconnect();
      await s.close();
      await pr.down();
    }
  });

  it("merges concurrent loads of one key into one database query (single-flight)", async () => {
    const u = await user();
    await b.repo.upsertForUser(u, [{ platform: "kimi", limits: L(1) }]);
    const s = makeBilling();
    let queries = 0;
    const query = s.pool.query.bind(s.pool);
    s.pool.query = ((...args: Parameters<typeof query>) => {
      queries++;
      return query(...args);
    }) as typeof s.pool.query;
    try {
      const decisions = await Promise.all(
        Array.from({ length: 50 }, () => s.service.checkUserPlatformQuotaEligibility(u, "kimi", { now: NOW })),
      );
      expect(decisions.every((d) => d.allowed)).toBe(true);
      expect(queries).toBe(1);
      // Positive control: without the cache entry, each later (sequential) check loads again.
      for (let i = 0; i < 3; i++) {
        await r.del(billingKeys.userPlatformQuota(u, "kimi"));
        await s.service.checkUserPlatformQuotaEligibility(u, "kimi", { now: NOW });
      }
      expect(queries).toBe(4);
    } finally {
      await s.close();
    }
  });
});

describe("hasUserPlatformQuotaLimit (write guard)", () => {
  it("limit → true; sentinel → false; miss → true; Redis error → true; simple mode → false", async () => {
    const u = await user();
    await b.cache!.set(u, "openai", entry({ monthlyLimit: 3 }), 60);
    await b.cache!.set(u, "gemini", entry(), 60);
    expect(await b.service.hasUserPlatformQuotaLimit(u, "openai")).toBe(true);
    expect(await b.service.hasUserPlatformQuotaLimit(u, "gemini")).toBe(false);
    expect(await b.service.hasUserPlatformQuotaLimit(u, "grok")).toBe(true);
    const broken = makeBilling({ redisUrl: "redis://127.0.0.1:1/0" });
    expect(await broken.service.hasUserPlatformQuotaLimit(u, "openai")).toBe(true);
    await broken.close();
    const simple = makeBilling({ config: { simpleMode: true } });
    expect(await simple.service.hasUserPlatformQuotaLimit(u, "openai")).toBe(false);
    expect(await simple.service.checkUserPlatformQuotaEligibility(u, "openai")).toEqual({
      allowed: true,
      source: "skip",
    });
    await simple.close();
  });
});

describe("recordUsage (spec §5.3)", () => {
  it("ignores an empty platform and cost ≤ 0 / NaN; writes nothing for a sentinel user", async () => {
    const u = await user();
    for (const cost of [0, -1, NaN, Infinity]) {
      expect(await b.service.recordUsage({ userId: u, platform: "openai", cost })).toMatchObject({ recorded: false });
    }
    expect(await b.service.recordUsage({ userId: u, platform: "", cost: 1 })).toMatchObject({ recorded: false });
    await b.service.checkUserPlatformQuotaEligibility(u, "openai", { now: NOW }); // writes a sentinel
    expect(await b.service.recordUsage({ userId: u, platform: "openai", cost: 1, now: NOW })).toMatchObject({
      recorded: false,
    });
    expect(await rowText(c, u, "openai")).toBeNull();
  });

  it("resets the entry's TTL to the configured cache TTL on every increment", async () => {
    const u = await user();
    const s = makeBilling({ config: { cacheTtlSeconds: 777 } });
    try {
      await s.repo.upsertForUser(u, [{ platform: "zhipu", limits: L(10) }]);
      await s.service.checkUserPlatformQuotaEligibility(u, "zhipu");
      await r.expire(billingKeys.userPlatformQuota(u, "zhipu"), 5);
      await s.service.recordUsage({ userId: u, platform: "zhipu", cost: 0.5 });
      const ttl = await r.ttl(billingKeys.userPlatformQuota(u, "zhipu"));
      expect(ttl).toBeGreaterThan(770);
      expect(ttl).toBeLessThanOrEqual(777);
    } finally {
      await s.close();
    }
  });

  it("with a limit: Redis and PostgreSQL both count it; the flusher mode only marks the key dirty", async () => {
    const u = await user();
    await b.repo.upsertForUser(u, [{ platform: "openai", limits: L(10) }]);
    await b.service.checkUserPlatformQuotaEligibility(u, "openai", { now: NOW });
    expect(await b.service.recordUsage({ userId: u, platform: "openai", cost: 1.25, now: NOW })).toMatchObject({
      recorded: true,
      cacheApplied: true,
      dbWritten: true,
      parked: null,
    });
    expect(await r.hget(billingKeys.userPlatformQuota(u, "openai"), "daily_usage")).toBe("1.25");
    expect((await rowText(c, u, "openai")).du).toBe("1.2500000000");

    const fl = makeBilling({ config: { flusherEnabled: true } });
    expect(await fl.service.recordUsage({ userId: u, platform: "openai", cost: 1, now: NOW })).toMatchObject({
      recorded: true,
      cacheApplied: true,
      dbWritten: false,
      parked: null,
    });
    expect(await r.sismember(billingKeys.dirtySet, `${u}:openai`)).toBe(1);
    expect((await rowText(c, u, "openai")).du).toBe("1.2500000000");
    await r.srem(billingKeys.dirtySet, `${u}:openai`);
    await fl.close();
  });
});

describe("concurrency", () => {
  const costs = Array.from({ length: 500 }, (_, i) => ((i * 37) % 100) / 100 + 0.01); // 0.01 … 1.00
  const exact = costs.reduce((s, x) => s + Math.round(x * 100), 0); // in cents
  /**
   * The 500 records at once, every one recorded. On a loaded machine some PostgreSQL writes outlast
   * their timeout and are parked in the journal (the ledger's design, docs/consistency.md) — recorded,
   * not yet in the row; the repairer writes them, so the sums are asserted once it has settled.
   */
  async function recordAllThenSettle(u: number, platform: string): Promise<{ parked: number }> {
    const results = await Promise.all(costs.map((cost) => b.service.recordUsage({ userId: u, platform, cost })));
    expect(results.filter((x) => !x.recorded)).toEqual([]);
    await b.repairer.settleAll();
    expect(await b.repairer.backlog()).toEqual({ journal: 0, memory: 0, outbox: 0 });
    return { parked: results.filter((x) => x.parked).length };
  }

  it("500 concurrent recordUsage with the entry present: PostgreSQL and Redis equal the exact sum", async () => {
    const u = await user();
    await b.repo.upsertForUser(u, [{ platform: "anthropic", limits: L(1e6) }]);
    await b.service.checkUserPlatformQuotaEligibility(u, "anthropic"); // builds the entry
    const { parked } = await recordAllThenSettle(u, "anthropic");
    expect((await rowText(c, u, "anthropic")).du).toBe((exact / 100).toFixed(10));
    const key = billingKeys.userPlatformQuota(u, "anthropic");
    if (parked === 0) {
      // Every increment reached the entry: 500 of them, nothing dropped.
      expect(await r.hget(key, "version")).toBe("500");
    } else {
      // A parked op's late write drops the entry (direct mode: Redis is a cache of PostgreSQL,
      // docs/consistency.md); the next check rebuilds it from the row.
      await b.service.checkUserPlatformQuotaEligibility(u, "anthropic");
    }
    expect(Number(await r.hget(key, "daily_usage"))).toBeCloseTo(exact / 100, 9);
  });

  it("500 concurrent recordUsage with no entry and no row: PostgreSQL still equals the exact sum", async () => {
    const u = await user();
    await recordAllThenSettle(u, "gemini");
    const row = await rowText(c, u, "gemini");
    expect([row.du, row.wu, row.mu]).toEqual(Array(3).fill((exact / 100).toFixed(10)));
  });

  it("interleaved checks and records never lose an increment in Redis", async () => {
    const u = await user();
    await b.repo.upsertForUser(u, [{ platform: "grok", limits: L(1e6, 1e6, 1e6) }]);
    // Stale windows in the row: every check in the burst wants to refresh, the first one wins.
    await c.query(
      "UPDATE user_platform_quotas SET daily_window_start = '2020-01-01', weekly_window_start = '2020-01-01', monthly_window_start = '2020-01-01', daily_usage_usd = 50 WHERE user_id = $1",
      [u],
    );
    await b.service.checkUserPlatformQuotaEligibility(u, "grok"); // rebuild: expired windows → 0 + current start
    const ops: Promise<unknown>[] = [];
    for (let i = 0; i < 300; i++) {
      ops.push(b.service.recordUsage({ userId: u, platform: "grok", cost: 0.5 }));
      ops.push(b.service.checkUserPlatformQuotaEligibility(u, "grok"));
    }
    await Promise.all(ops);
    const [d, w, m] = await r.hmget(
      billingKeys.userPlatformQuota(u, "grok"),
      "daily_usage",
      "weekly_usage",
      "monthly_usage",
    );
    expect([Number(d), Number(w), Number(m)]).toEqual([150, 150, 150]);
  });
});

describe("faults", () => {
  it("Redis unreachable: checks fail open, usage reaches PostgreSQL; when Redis returns the next check rebuilds", async () => {
    const pr = await PrivateRedis.start();
    const s = makeBilling({ redisUrl: pr.url });
    try {
      const u = await user();
      await s.repo.upsertForUser(u, [{ platform: "openai", limits: L(2) }]);
      await pr.down();
      const d1 = await s.service.checkUserPlatformQuotaEligibility(u, "openai");
      expect(d1).toEqual({ allowed: true, source: "database-no-cache" });
      expect(await s.service.recordUsage({ userId: u, platform: "openai", cost: 1.5 })).toMatchObject({
        cacheApplied: false,
        dbWritten: true,
      });
      expect((await rowText(c, u, "openai")).du).toBe("1.5000000000");
      // Decided from the database while Redis is down — still enforcing.
      await s.service.recordUsage({ userId: u, platform: "openai", cost: 1 });
      expect(await s.service.checkUserPlatformQuotaEligibility(u, "openai")).toMatchObject({
        allowed: false,
        source: "database-no-cache",
      });
      expect(s.log.lines.some((l) => l.startsWith("error ALERT billing: quota cache increment failed"))).toBe(true);

      await pr.up();
      await new Promise((res) => setTimeout(res, 300)); // ioredis reconnects
      expect(await s.service.checkUserPlatformQuotaEligibility(u, "openai")).toMatchObject({
        allowed: false,
        source: "database",
      });
      const probe = new Redis(pr.url);
      expect(await probe.hget(billingKeys.userPlatformQuota(u, "openai"), "daily_usage")).toBe("2.5");
      probe.disconnect();
    } finally {
      await s.close();
      await pr.down();
    }
  });

  // Chaos finding (redis-kill · flusher): the outage's costs wait in the outbox as replays, so a
  // check that read only the row decided from the usage of the last flush — a frozen number.
  it("flusher mode, Redis unreachable: the database decision counts the costs waiting to be replayed", async () => {
    const pr = await PrivateRedis.start();
    const s = makeBilling({ redisUrl: pr.url, config: { flusherEnabled: true } });
    try {
      const u = await user();
      await s.repo.upsertForUser(u, [{ platform: "grok", limits: L(2) }]);
      await pr.down();
      expect(await s.service.checkUserPlatformQuotaEligibility(u, "grok")).toEqual({
        allowed: true,
        source: "database-no-cache",
      });
      expect(await s.service.recordUsage({ userId: u, platform: "grok", cost: 1.5 })).toMatchObject({
        recorded: true,
        parked: "outbox",
      });
      expect(await s.service.checkUserPlatformQuotaEligibility(u, "grok")).toEqual({
        allowed: true,
        source: "database-no-cache",
      }); // 1.5 < 2
      await s.service.recordUsage({ userId: u, platform: "grok", cost: 0.5 });
      // The row still says 0 (nothing flushed, nothing written): only the replays make this 2 >= 2.
      expect((await rowText(c, u, "grok")).du).toBe("0.0000000000");
      expect(await s.service.checkUserPlatformQuotaEligibility(u, "grok")).toMatchObject({
        allowed: false,
        source: "database-no-cache",
      });
      expect(await s.repo.pendingReplayCosts(billingKeys.userPlatformQuota(u, "grok"))).toEqual([
        { at: expect.any(Number), cost: 1.5 },
        { at: expect.any(Number), cost: 0.5 },
      ]);
    } finally {
      await s.close();
      await pr.down();
    }
  });

  it("a Redis GET error with no row writes no sentinel", async () => {
    const pr = await PrivateRedis.start();
    const s = makeBilling({ redisUrl: pr.url });
    try {
      const u = await user();
      await pr.down();
      expect(await s.service.checkUserPlatformQuotaEligibility(u, "kimi")).toEqual({ allowed: true, source: "no-row" });
      await pr.up();
      const probe = new Redis(pr.url);
      expect(await probe.exists(billingKeys.userPlatformQuota(u, "kimi"))).toBe(0);
      probe.disconnect();
    } finally {
      await s.close();
      await pr.down();
    }
  });

  it("PostgreSQL hanging: allowed within the timeout; fail-closed blocks with 503 instead; nothing throws", async () => {
    const hole = await blackholeServer();
    const url = `postgresql://postgres@127.0.0.1:${hole.port}/x`;
    const open = makeBilling({ databaseUrl: url, redisUrl: null, config: { dbTimeoutMs: 300 } });
    const closed = makeBilling({ databaseUrl: url, redisUrl: null, config: { dbTimeoutMs: 300, failClosed: true } });
    try {
      const t0 = performance.now();
      expect(await open.service.checkUserPlatformQuotaEligibility(1, "openai")).toEqual({
        allowed: true,
        source: "fail-open",
      });
      expect(performance.now() - t0).toBeLessThan(1500);
      const d = await closed.service.checkUserPlatformQuotaEligibility(1, "openai");
      expect(d).toMatchObject({ allowed: false, source: "fail-closed" });
      expect((d as { error: unknown }).error).toBeInstanceOf(BillingServiceError);
      expect(await open.service.recordUsage({ userId: 1, platform: "openai", cost: 1 })).toMatchObject({
        recorded: true,
        dbWritten: false,
      });
    } finally {
      await hole.close();
      await open.close().catch(() => {});
      await closed.close().catch(() => {});
    }
  });

  it("PostgreSQL refusing connections: allowed (fail-open), and a cancelled caller is allowed too", async () => {
    const s = makeBilling({ databaseUrl: "postgresql://postgres@127.0.0.1:1/x", redisUrl: null });
    try {
      expect(await s.service.checkUserPlatformQuotaEligibility(1, "openai")).toEqual({
        allowed: true,
        source: "fail-open",
      });
      const ac = new AbortController();
      ac.abort();
      expect(await s.service.checkUserPlatformQuotaEligibility(2, "openai", { signal: ac.signal })).toEqual({
        allowed: true,
        source: "fail-open",
      });
    } finally {
      await s.close();
    }
  });
});
