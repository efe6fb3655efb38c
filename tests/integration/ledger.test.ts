import type { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { billingKeys, ledgerKeys } from "@/lib/billing/keys";
import { RedisProcess, TcpProxy } from "@/scripts/lib/faults";

import { createUsers, deleteUsers, rawDb, rowText } from "../support/billing";
import { makeBilling } from "../support/billing-runtime";
import { checkLedger, costOf } from "../support/ledger-check";
import { testEnv } from "../support/test-env";

/**
 * The usage ledger under real faults (docs/consistency.md): every recorded cost reaches PostgreSQL
 * exactly once, and Redis ends equal to PostgreSQL (or absent) — with the database refusing, hanging
 * or cut, Redis paused or killed, and rebuilds racing the recording. Each test names the failure of
 * issue 9 it guards against.
 */
let c: Client;
const users: number[] = [];
const L = (daily: number | null, weekly: number | null = null, monthly: number | null = null) => ({
  daily,
  weekly,
  monthly,
});

async function user(limits = L(1e6, 1e6, 1e6), platforms = ["anthropic"]): Promise<number> {
  const [id] = await createUsers(c, "ledger", 1);
  users.push(id);
  const b = makeBilling({ redisUrl: null });
  await b.repo.upsertForUser(
    id,
    platforms.map((platform) => ({ platform, limits })),
  );
  await b.close();
  return id;
}

/** A TCP proxy in front of the test database, and the URL through it. */
async function proxiedDatabase(): Promise<{ proxy: TcpProxy; url: string }> {
  const u = new URL(testEnv().databaseUrl);
  const proxy = await TcpProxy.start({ targetHost: u.hostname, targetPort: Number(u.port || 5432) });
  u.port = String(proxy.port);
  return { proxy, url: u.toString() };
}

beforeAll(async () => {
  c = await rawDb();
});
afterAll(async () => {
  await deleteUsers(c, users);
  await c.end();
});

describe("rebuilds racing the recording (issue 9 §3)", () => {
  it("500 records + 500 checks on a cold key: Redis equals PostgreSQL, PostgreSQL the exact sum", async () => {
    // A generous load timeout: the point is the race between rebuilds and records, which a busy
    // machine must not turn into fail-open checks that never rebuild.
    const b = makeBilling({ config: { dbTimeoutMs: 30_000, cacheWriteTimeoutMs: 5000 } });
    const u = await user();
    try {
      const costs: number[] = [];
      const ops: Promise<unknown>[] = [];
      for (let i = 0; i < 500; i++) {
        costs.push(costOf(i));
        ops.push(b.service.recordUsage({ userId: u, platform: "anthropic", cost: costOf(i) }));
        ops.push(b.service.checkUserPlatformQuotaEligibility(u, "anthropic"));
      }
      await Promise.all(ops);
      await b.repairer.settleAll();
      const r = await checkLedger(b.pool, b.redis, new Map([[`${u}:anthropic`, costs]]));
      expect(r.keys[0].why ?? "consistent").toBe("consistent");
      expect(b.metrics.fencedRebuilds + b.metrics.rebuilds).toBeGreaterThan(0);
    } finally {
      await b.close();
    }
  });

  it("300 requests while the key is deleted 4 times (an eviction, another process's DEL): consistent after verification", async () => {
    const b = makeBilling();
    const u = await user();
    try {
      const costs: number[] = [];
      const ops: Promise<unknown>[] = [];
      for (let i = 0; i < 300; i++) {
        costs.push(costOf(i));
        ops.push(
          b.service
            .checkUserPlatformQuotaEligibility(u, "anthropic")
            .then(() => b.service.recordUsage({ userId: u, platform: "anthropic", cost: costOf(i) })),
        );
        if (i % 75 === 37) ops.push(b.redis!.del(billingKeys.userPlatformQuota(u, "anthropic")));
        if (i % 10 === 0) await new Promise((res) => setTimeout(res, 5));
      }
      await Promise.all(ops);
      await b.repairer.settleAll();
      await b.repairer.verifyAllNow(); // the checks' rebuilds are verified against PostgreSQL
      await b.service.checkUserPlatformQuotaEligibility(u, "anthropic"); // rebuild what a verification dropped
      const r = await checkLedger(b.pool, b.redis, new Map([[`${u}:anthropic`, costs]]));
      expect(r.keys[0].why ?? "consistent").toBe("consistent");
    } finally {
      await b.close();
    }
  });
});

describe("PostgreSQL faults in direct mode (issue 9 §5, §6)", () => {
  it("refusing connections: ops park in the journal with Redis applied, and land exactly once when it is back", async () => {
    const { proxy, url } = await proxiedDatabase();
    const b = makeBilling({ databaseUrl: url, config: { recordTimeoutMs: 5000 } });
    const u = await user();
    try {
      await b.service.checkUserPlatformQuotaEligibility(u, "anthropic"); // entry in Redis
      await proxy.refuse();
      // Idle clients would keep working (only new connections are refused): reset them too, or one
      // batch on the check's idle connection records all 40 and none parks.
      proxy.cut();
      const costs = Array.from({ length: 40 }, (_, i) => costOf(i));
      const results = await Promise.all(
        costs.map((cost) => b.service.recordUsage({ userId: u, platform: "anthropic", cost })),
      );
      expect(results.every((x) => x.recorded)).toBe(true);
      expect(results.filter((x) => x.parked === "journal").length).toBeGreaterThan(0);
      expect(await b.cache!.journalSize()).toBeGreaterThan(0);
      await proxy.pass();
      await b.repairer.settleAll();
      expect(await b.cache!.journalSize()).toBe(0);
      const r = await checkLedger(b.pool, b.redis, new Map([[`${u}:anthropic`, costs]]));
      expect(r.keys[0].why ?? "consistent").toBe("consistent");
    } finally {
      await b.close();
      await proxy.close();
    }
  });

  it("a parked op whose user was deleted meanwhile is dropped with an alert; the rest of its batch lands", async () => {
    const { proxy, url } = await proxiedDatabase();
    const b = makeBilling({ databaseUrl: url, config: { recordTimeoutMs: 5000 } });
    const keep = await user();
    const gone = await user();
    try {
      await proxy.refuse();
      const kept = [1.25, 2.5];
      for (const cost of kept) await b.service.recordUsage({ userId: keep, platform: "anthropic", cost });
      await b.service.recordUsage({ userId: gone, platform: "anthropic", cost: 9 });
      expect(await b.cache!.journalSize()).toBe(3);
      await proxy.pass();
      await c.query("DELETE FROM users WHERE id = $1", [gone]); // rows go with it (ON DELETE CASCADE)
      await b.repairer.settleAll();
      expect(await b.cache!.journalSize()).toBe(0);
      expect(b.metrics.usageOpsRejected).toBe(1);
      expect(b.log.lines.some((l) => l.includes("refuses this usage op for good"))).toBe(true);
      const r = await checkLedger(b.pool, null, new Map([[`${keep}:anthropic`, kept]]));
      expect(r.keys[0].why ?? "consistent").toBe("consistent");
    } finally {
      await b.close();
      await proxy.close();
    }
  });

  it("hung (accepts, never answers): recordUsage returns in bounded time; the late-delivered statements never count twice", async () => {
    const { proxy, url } = await proxiedDatabase();
    const b = makeBilling({ databaseUrl: url, config: { recordTimeoutMs: 800, dbTimeoutMs: 300 } });
    const u = await user();
    try {
      await b.service.checkUserPlatformQuotaEligibility(u, "anthropic");
      await proxy.pause();
      const costs = Array.from({ length: 30 }, (_, i) => costOf(i + 100));
      const t0 = performance.now();
      const results = await Promise.all(
        costs.map((cost) => b.service.recordUsage({ userId: u, platform: "anthropic", cost })),
      );
      const elapsed = performance.now() - t0;
      // Every call resolved within the record timeout (plus scheduling), none of them threw.
      expect(elapsed).toBeLessThan(800 + 500);
      expect(results.every((x) => x.recorded)).toBe(true);
      // Checks stay bounded too: the hash answers them (Redis is up).
      expect((await b.service.checkUserPlatformQuotaEligibility(u, "anthropic")).allowed).toBe(true);
      await new Promise((res) => setTimeout(res, 7000)); // past the client's query timeout: connections given up
      await proxy.pass(); // the buffered statements now reach PostgreSQL
      await b.repairer.settleAll();
      const r = await checkLedger(b.pool, b.redis, new Map([[`${u}:anthropic`, costs]]));
      expect(r.keys[0].why ?? "consistent").toBe("consistent");
    } finally {
      await b.close();
      await proxy.close();
    }
  }, 60_000);

  it("connections cut mid-commit: an unconfirmed COMMIT is resolved by its commit marker, never written twice", async () => {
    const { proxy, url } = await proxiedDatabase();
    const b = makeBilling({ databaseUrl: url, config: { recordTimeoutMs: 5000 } });
    const u = await user();
    try {
      await b.service.checkUserPlatformQuotaEligibility(u, "anthropic");
      const costs = Array.from({ length: 200 }, (_, i) => costOf(i + 300));
      const ops = costs.map((cost, i) =>
        new Promise((res) => setTimeout(res, i * 2)).then(() =>
          b.service.recordUsage({ userId: u, platform: "anthropic", cost }),
        ),
      );
      for (let k = 0; k < 4; k++) {
        await new Promise((res) => setTimeout(res, 80));
        proxy.cut();
      }
      await Promise.all(ops);
      await b.repairer.settleAll();
      const r = await checkLedger(b.pool, b.redis, new Map([[`${u}:anthropic`, costs]]));
      expect(r.keys[0].why ?? "consistent").toBe("consistent");
    } finally {
      await b.close();
      await proxy.close();
    }
  });
});

describe("Redis faults where Redis keeps its data (issue 9 §2)", () => {
  it("paused (SIGSTOP) under traffic: the surviving hash is healed as soon as Redis answers", async () => {
    const redis = await RedisProcess.start();
    const b = makeBilling({ redisUrl: redis.url(), config: { incrementTimeoutMs: 300 } });
    const u = await user();
    try {
      await b.service.checkUserPlatformQuotaEligibility(u, "anthropic");
      const costs: number[] = [];
      const ops: Promise<unknown>[] = [];
      for (let i = 0; i < 120; i++) {
        if (i === 40) redis.pause();
        if (i === 80) redis.resume();
        costs.push(costOf(i));
        ops.push(b.service.recordUsage({ userId: u, platform: "anthropic", cost: costOf(i) }));
        await new Promise((res) => setTimeout(res, 10));
      }
      await Promise.all(ops);
      await b.repairer.settleAll();
      await b.service.checkUserPlatformQuotaEligibility(u, "anthropic");
      const r = await checkLedger(b.pool, b.redis, new Map([[`${u}:anthropic`, costs]]));
      expect(r.keys[0].why ?? "consistent").toBe("consistent");
    } finally {
      await b.close();
      await redis.stop();
      await redis.cleanup();
    }
  });

  it("killed and restarted from its AOF: no stale hash survives", async () => {
    const redis = await RedisProcess.start({ appendonly: true, appendfsync: "always" });
    const b = makeBilling({ redisUrl: redis.url(), config: { incrementTimeoutMs: 300 } });
    const u = await user();
    try {
      await b.service.checkUserPlatformQuotaEligibility(u, "anthropic");
      const costs: number[] = [];
      const ops: Promise<unknown>[] = [];
      for (let i = 0; i < 90; i++) {
        if (i === 30) await redis.kill();
        if (i === 60) await redis.restart();
        costs.push(costOf(i));
        ops.push(b.service.recordUsage({ userId: u, platform: "anthropic", cost: costOf(i) }));
        await new Promise((res) => setTimeout(res, 10));
      }
      await Promise.all(ops);
      await new Promise((res) => setTimeout(res, 500)); // ioredis reconnects
      await b.repairer.settleAll();
      await b.service.checkUserPlatformQuotaEligibility(u, "anthropic");
      const r = await checkLedger(b.pool, b.redis, new Map([[`${u}:anthropic`, costs]]));
      expect(r.keys[0].why ?? "consistent").toBe("consistent");
    } finally {
      await b.close();
      await redis.stop();
      await redis.cleanup();
    }
  });
});

describe("malformed bytes (issue 9 §8)", () => {
  it("a garbled limit reads as Go reads it, never stops the recording, and the hash is repaired from PostgreSQL", async () => {
    const b = makeBilling();
    const u = await user(L(1));
    const key = billingKeys.userPlatformQuota(u, "anthropic");
    try {
      await b.service.checkUserPlatformQuotaEligibility(u, "anthropic");
      await b.redis!.hset(key, "daily_limit", "1,0"); // unparsable: Go reads nil (unlimited)
      expect(await b.service.checkUserPlatformQuotaEligibility(u, "anthropic")).toMatchObject({
        allowed: true,
        source: "cache",
      });
      const rec = await b.service.recordUsage({ userId: u, platform: "anthropic", cost: 1.5 });
      expect(rec).toMatchObject({ recorded: true, dbWritten: true });
      expect((await rowText(c, u, "anthropic")).du).toBe("1.5000000000");
      expect(b.metrics.malformedEntries).toBeGreaterThan(0);
      await b.repairer.runOnce(); // repair: direct mode drops the hash …
      expect(await b.redis!.exists(key)).toBe(0);
      // … and the next check rebuilds it from PostgreSQL and enforces again.
      expect(await b.service.checkUserPlatformQuotaEligibility(u, "anthropic")).toMatchObject({
        allowed: false,
        source: "database",
      });
      expect(await b.redis!.hget(key, "daily_limit")).toBe("1");
    } finally {
      await b.close();
    }
  });

  it("a garbled usage is refused by the increment (no partial write) and the cost still reaches PostgreSQL", async () => {
    const b = makeBilling();
    const u = await user();
    const key = billingKeys.userPlatformQuota(u, "anthropic");
    try {
      await b.service.checkUserPlatformQuotaEligibility(u, "anthropic");
      await b.redis!.hset(key, "weekly_usage", "");
      const rec = await b.service.recordUsage({ userId: u, platform: "anthropic", cost: 2 });
      expect(rec).toMatchObject({ recorded: true, cacheApplied: false, dbWritten: true });
      expect(await b.redis!.hmget(key, "daily_usage", "weekly_usage")).toEqual(["0", ""]);
      await b.repairer.settleAll();
      const r = await checkLedger(b.pool, b.redis, new Map([[`${u}:anthropic`, [2]]]));
      expect(r.keys[0].why ?? "consistent").toBe("consistent");
      expect(await b.redis!.hexists(ledgerKeys.fence(u, "anthropic"), "gen")).toBe(1);
    } finally {
      await b.close();
    }
  });
});

describe("flusher mode", () => {
  it("a missing key's cost is written to PostgreSQL under the no-op's lease (the gateway drops it)", async () => {
    const b = makeBilling({ config: { flusherEnabled: true } });
    const u = await user();
    try {
      const rec = await b.service.recordUsage({ userId: u, platform: "anthropic", cost: 0.75 });
      expect(rec).toMatchObject({ recorded: true, cacheApplied: false, dbWritten: true });
      expect((await rowText(c, u, "anthropic")).mu).toBe("0.7500000000");
      expect(await b.redis!.hlen(ledgerKeys.fence(u, "anthropic"))).toBe(1); // gen only: the lease was released
    } finally {
      await b.close();
    }
  });

  it("Redis paused: ops are replayed into Redis when it answers (at most once), then flushed", async () => {
    const redis = await RedisProcess.start();
    const b = makeBilling({ redisUrl: redis.url(), config: { flusherEnabled: true, incrementTimeoutMs: 300 } });
    const u = await user();
    const flusher = b.flusher({ intervalMs: 100 });
    try {
      await b.service.checkUserPlatformQuotaEligibility(u, "anthropic");
      const costs: number[] = [];
      const ops: Promise<unknown>[] = [];
      for (let i = 0; i < 60; i++) {
        if (i === 20) redis.pause();
        if (i === 40) redis.resume();
        costs.push(costOf(i));
        ops.push(b.service.recordUsage({ userId: u, platform: "anthropic", cost: costOf(i) }));
        await new Promise((res) => setTimeout(res, 10));
      }
      await Promise.all(ops);
      await b.repairer.settleAll();
      await flusher.flush();
      const r = await checkLedger(b.pool, b.redis, new Map([[`${u}:anthropic`, costs]]));
      expect(r.keys[0].why ?? "consistent").toBe("consistent");
    } finally {
      await flusher.stop();
      await b.close();
      await redis.stop();
      await redis.cleanup();
    }
  });
});
