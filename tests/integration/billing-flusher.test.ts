import Redis from "ioredis";
import type { Client } from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { normalizeFlusherConfig, QuotaUsageFlusher } from "@/lib/billing/flusher";
import { billingKeys, ledgerKeys } from "@/lib/billing/keys";
import { QuotaCache, type QuotaCacheEntry } from "@/lib/billing/quota-cache";
import { QuotaRepository } from "@/lib/billing/quota-repo";
import { blackholeServer, RedisProcess } from "@/scripts/lib/faults";

import { createUsers, deleteUsers, rawDb, rowText } from "../support/billing";
import { makeBilling, memoryLogger } from "../support/billing-runtime";
import { testEnv } from "../support/test-env";

/** The usage flusher (spec §5.4) between real Redis and real PostgreSQL. */
let c: Client;
let r: Redis;
let b: ReturnType<typeof makeBilling>;
let users: number[] = [];
const DS = Date.parse("2026-11-25T00:00:00+08:00");
const entry = (usage: number, over: Partial<QuotaCacheEntry> = {}): QuotaCacheEntry => ({
  dailyUsage: usage,
  weeklyUsage: usage * 2,
  monthlyUsage: usage * 3,
  version: 4,
  schemaVersion: 1,
  dailyLimit: 10,
  weeklyLimit: null,
  monthlyLimit: null,
  dailyWindowStart: DS,
  weeklyWindowStart: Date.parse("2026-11-23T00:00:00+08:00"),
  monthlyWindowStart: Date.parse("2026-11-10T01:02:03Z"),
  ...over,
});

function flusher(
  over: {
    repo?: QuotaRepository;
    cache?: QuotaCache;
    batchSize?: number;
    intervalMs?: number;
    batchTimeoutMs?: number;
    heartbeatMs?: number;
  } = {},
) {
  const log = memoryLogger();
  const f = new QuotaUsageFlusher(
    { cache: over.cache ?? b.cache!, repo: over.repo ?? b.repo, logger: log.logger },
    {
      batchSize: over.batchSize,
      intervalMs: over.intervalMs,
      batchTimeoutMs: over.batchTimeoutMs,
      heartbeatMs: over.heartbeatMs,
    },
  );
  return { f, log };
}

const LIMITS = { daily: 10, weekly: null, monthly: null };
async function rows(platforms: string[], who = users) {
  for (const u of who)
    await b.repo.upsertForUser(
      u,
      platforms.map((platform) => ({ platform, limits: LIMITS })),
    );
}

beforeAll(async () => {
  c = await rawDb();
  r = new Redis(testEnv().redisUrl);
  b = makeBilling();
});
beforeEach(async () => {
  await r.del(billingKeys.dirtySet);
  await deleteUsers(c, users);
  users = await createUsers(c, "flush", 6);
});
afterAll(async () => {
  await deleteUsers(c, users);
  await r.del(billingKeys.dirtySet);
  await c.end();
  await r.quit();
  await b.close();
});

describe("flush", () => {
  it("claims dirty keys and writes absolute snapshots; a missing key or a nil window is skipped", async () => {
    await rows(["openai"]);
    await b.repo.incrementUsageWithReset(users[0], "openai", 1, Date.now()); // the DB has 1; Redis says 9.9
    for (const [i, u] of users.slice(0, 5).entries()) await b.cache!.set(u, "openai", entry(i === 0 ? 9.9 : i), 86400);
    await b.cache!.set(users[5], "openai", entry(5, { weeklyWindowStart: null }), 86400);
    await r.sadd(billingKeys.dirtySet, ...users.map((u) => `${u}:openai`), `${users[0]}:gemini`, "junk-member");
    const { f } = flusher();
    await f.flush();
    expect(f.stats).toMatchObject({ flushSuccess: 1, flushError: 0, rowsWritten: 5, dirtyReadd: 0 });
    const row0 = await rowText(c, users[0], "openai");
    expect(row0).toMatchObject({ dl: "10.0000000000", du: "9.9000000000", wu: "19.8000000000", mu: "29.7000000000" });
    expect(row0.ds.getTime()).toBe(DS);
    expect(row0.ms.getTime()).toBe(Date.parse("2026-11-10T01:02:03Z"));
    expect((await rowText(c, users[3], "openai")).du).toBe("3.0000000000");
    expect((await rowText(c, users[5], "openai")).du).toBe("0.0000000000"); // nil window start: skipped
    expect(await rowText(c, users[0], "gemini")).toBeNull(); // no hash: skipped
    expect(await r.scard(billingKeys.dirtySet)).toBe(0);
    expect(await r.scard(ledgerKeys.flushing(f.id))).toBe(0); // nothing left in flight
    expect(Number(await r.get(ledgerKeys.lastFlush))).toBeGreaterThan(Date.now() - 10_000);
  });

  it("an empty dirty set writes nothing and counts nothing", async () => {
    const { f } = flusher();
    await f.flush();
    expect(f.stats).toMatchObject({ flushSuccess: 0, flushError: 0, rowsWritten: 0, dirtyReadd: 0, dirtyLost: 0 });
  });

  it("a failed database write puts the keys back (SADD + EXPIRE 86400)", async () => {
    await b.cache!.set(users[0], "openai", entry(2), 86400);
    await r.sadd(billingKeys.dirtySet, `${users[0]}:openai`);
    const down = makeBilling({ databaseUrl: "postgresql://postgres@127.0.0.1:1/x" });
    const { f } = flusher({ repo: down.repo });
    await f.flush();
    await down.close();
    expect(f.stats).toMatchObject({ flushSuccess: 0, flushError: 1, dirtyReadd: 1 });
    expect(await r.smembers(billingKeys.dirtySet)).toEqual([`${users[0]}:openai`]);
    expect(await r.ttl(billingKeys.dirtySet)).toBeGreaterThan(86390);
    expect(await r.scard(ledgerKeys.flushing(f.id))).toBe(0);
  });

  // Better than upstream: the gateway's BatchSnapshotUsage inserts a row for a key without one (a user
  // deleted → FK violation → the whole batch dropped, innocent keys included; a platform an admin
  // removed → resurrected with NULL limits).
  it("a key without an active row is not re-created, and the rest of its batch is still written", async () => {
    await rows(["openai"], [users[0]]);
    await b.cache!.set(users[0], "openai", entry(2), 86400);
    await b.cache!.set(1_999_999_999, "openai", entry(2), 86400);
    await r.sadd(billingKeys.dirtySet, `${users[0]}:openai`, "1999999999:openai");
    const { f } = flusher();
    await f.flush();
    expect(f.stats).toMatchObject({ flushError: 0, rowsWritten: 1, withoutRow: 1 });
    expect((await rowText(c, users[0], "openai")).du).toBe("2.0000000000");
    expect(
      (await c.query("SELECT count(*)::int AS n FROM user_platform_quotas WHERE user_id = 1999999999")).rows[0].n,
    ).toBe(0);
    await r.del(billingKeys.userPlatformQuota(1_999_999_999, "openai"));
  });

  it("Redis gone while the database write hangs: the keys stay in the processing set and nothing is lost", async () => {
    const pr = await RedisProcess.start();
    const pc = new Redis(pr.url(), { maxRetriesPerRequest: 0, commandTimeout: 300 });
    pc.on("error", () => {});
    const pcache = new QuotaCache(pc);
    await pcache.set(users[0], "openai", entry(2), 86400);
    await pc.sadd(billingKeys.dirtySet, `${users[0]}:openai`);
    // The database hangs; while the write waits, Redis becomes unreachable (paused, data kept).
    const hole = await blackholeServer(() => pr.pause());
    const hung = makeBilling({ databaseUrl: `postgresql://postgres@127.0.0.1:${hole.port}/x`, redisUrl: null });
    const { f, log } = flusher({ cache: pcache, repo: hung.repo, batchTimeoutMs: 300 });
    try {
      await f.flush();
      expect(f.stats).toMatchObject({ flushError: 1, dirtyReadd: 0, dirtyLost: 0 });
      expect(log.lines.some((l) => l.includes("stay in the processing set"))).toBe(true);
      pr.resume();
      expect(await pc.smembers(ledgerKeys.flushing(f.id))).toEqual([`${users[0]}:openai`]);
    } finally {
      pc.disconnect();
      await hole.close();
      await hung.close().catch(() => {});
      await pr.stop();
      await pr.cleanup();
    }
  });

  it("a flusher killed between the pop and the write loses nothing: its keys come back and are flushed", async () => {
    await rows(["grok"]);
    for (const u of users) await b.cache!.set(u, "grok", entry(4), 86400);
    await r.sadd(billingKeys.dirtySet, ...users.map((u) => `${u}:grok`));
    // A flusher pops (claims) and dies before writing: upstream's SPOP would have lost these.
    expect((await b.cache!.claimDirty("killed-flusher", 100, 300)).length).toBe(users.length);
    expect(await r.scard(billingKeys.dirtySet)).toBe(0);
    const { f } = flusher();
    await f.flush(); // nothing to do yet: the keys are the dead flusher's
    expect(f.stats.rowsWritten).toBe(0);
    await new Promise((res) => setTimeout(res, 350)); // its heartbeat expires
    expect(await b.cache!.recoverDeadFlushers()).toBe(users.length);
    await f.flush();
    expect(f.stats.rowsWritten).toBe(users.length);
    for (const u of users) expect((await rowText(c, u, "grok")).du).toBe("4.0000000000");
    for (const u of users) await b.cache!.delete(u, "grok");
  });

  it("a snapshot never overwrites a PostgreSQL increment committed after its read (rows locked before Redis is read)", async () => {
    await rows(["kimi"], [users[0]]);
    let release!: () => void;
    const gate = new Promise<void>((res) => (release = res));
    let increment: Promise<void> | null = null;
    const snapshot = b.repo.snapshotLocked([{ userId: users[0], platform: "kimi" }], async () => {
      // While the snapshot holds the row, a direct increment (a usage op whose key was missing) arrives.
      increment = b.repo.incrementUsageWithReset(users[0], "kimi", 1.5, Date.now());
      await new Promise((res) => setTimeout(res, 200));
      release();
      return [
        {
          userId: users[0],
          platform: "kimi",
          dailyUsage: 7,
          weeklyUsage: 7,
          monthlyUsage: 7,
          dailyWindowStart: DS,
          weeklyWindowStart: DS,
          monthlyWindowStart: Date.now() - 1000,
        },
      ];
    });
    await gate;
    await snapshot;
    await increment;
    // The increment waited for the snapshot's lock and landed on top of it (7 + 1.5), never under it.
    expect((await rowText(c, users[0], "kimi")).mu).toBe("8.5000000000");
  });

  it("processes at most 16 batches per tick and warns about the backlog", async () => {
    const platforms = ["anthropic", "openai", "gemini", "antigravity", "grok", "kimi"];
    await rows(platforms);
    const members: string[] = [];
    for (const u of users) {
      for (const p of platforms) {
        await b.cache!.set(u, p, entry(1), 86400);
        members.push(`${u}:${p}`);
      }
    }
    await r.sadd(billingKeys.dirtySet, ...members); // 36 members
    const { f, log } = flusher({ batchSize: 2 });
    await f.flush();
    expect(f.stats.flushSuccess).toBe(16);
    expect(f.stats.rowsWritten).toBe(32);
    expect(await r.scard(billingKeys.dirtySet)).toBe(4);
    expect(log.lines.some((l) => l.includes("backlog"))).toBe(true);
    for (const u of users) for (const p of platforms) await b.cache!.delete(u, p);
  });
});

describe("schedule", () => {
  it("flushes on its interval, and after stop() does one last flush and no further pops", async () => {
    await rows(["openai"], users.slice(0, 2));
    await b.cache!.set(users[0], "openai", entry(1), 86400);
    const { f } = flusher({ intervalMs: 30 });
    f.start();
    await r.sadd(billingKeys.dirtySet, `${users[0]}:openai`);
    for (let i = 0; i < 100 && (await r.scard(billingKeys.dirtySet)) > 0; i++)
      await new Promise((res) => setTimeout(res, 20));
    expect(await r.scard(billingKeys.dirtySet)).toBe(0);
    await b.cache!.set(users[1], "openai", entry(7), 86400);
    await r.sadd(billingKeys.dirtySet, `${users[1]}:openai`);
    await f.stop(); // final flush picks this one up
    expect((await rowText(c, users[1], "openai")).du).toBe("7.0000000000");
    await r.sadd(billingKeys.dirtySet, `${users[0]}:openai`);
    await new Promise((res) => setTimeout(res, 150));
    expect(await r.scard(billingKeys.dirtySet)).toBe(1);
    await f.flush(); // a stopped flusher never pops
    expect(await r.scard(billingKeys.dirtySet)).toBe(1);
  });

  it("normalises its configuration like the gateway", () => {
    expect(normalizeFlusherConfig({ intervalMs: 0, batchSize: 0 })).toMatchObject({
      intervalMs: 2000,
      batchSize: 1000,
      maxBatchesPerTick: 16,
    });
    expect(normalizeFlusherConfig({ intervalMs: -5, batchSize: 10_000 })).toMatchObject({
      intervalMs: 2000,
      batchSize: 6000,
    });
    expect(normalizeFlusherConfig({ intervalMs: 500, batchSize: 250 })).toMatchObject({
      intervalMs: 500,
      batchSize: 250,
    });
  });
});
