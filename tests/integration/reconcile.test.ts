import { spawn } from "node:child_process";
import Redis from "ioredis";
import type { Client } from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

import { billingKeys, ledgerKeys } from "@/lib/billing/keys";
import { decodeQuotaEntry } from "@/lib/billing/quota-cache";
import { reconcile, repairKey } from "@/lib/billing/reconcile";
import type { Limits } from "@/lib/billing/vocabulary";

import { createUsers, deleteUsers, rawDb, rowText } from "../support/billing";
import { makeBilling } from "../support/billing-runtime";
import { freePort } from "../support/net";
import { testEnv } from "../support/test-env";

/**
 * Drift check and repair (lib/billing/reconcile.ts, npm run reconcile) against real Redis and
 * PostgreSQL: hashes are built by the billing chain itself (an eligibility check), drift is injected
 * with a raw HSET as a buggy writer would leave it, and the report, the skip rules and both modes'
 * repairs are asserted on the bytes in Redis and the rows in PostgreSQL.
 */
let c: Client;
let r: Redis;
let direct: ReturnType<typeof makeBilling>;
let flusher: ReturnType<typeof makeBilling>;
let users: number[] = [];
const LIMITS: Limits = { daily: 10, weekly: 50, monthly: 200 };
const key = (u: number, p: string) => billingKeys.userPlatformQuota(u, p);
const fast = { recheckDelayMs: 50 };

/** A quota row with some usage, and its Redis hash as the billing chain builds it. */
async function keyWithHash(rt: typeof direct, userId: number, platform: string, usage = 1.25, limits = LIMITS) {
  await rt.repo.upsertForUser(userId, [{ platform, limits }]);
  if (usage > 0) await rt.repo.incrementUsageWithReset(userId, platform, usage, Date.now());
  expect((await rt.service.checkUserPlatformQuotaEligibility(userId, platform)).allowed).toBe(true);
  expect(await r.hget(key(userId, platform), "schema_version")).toBe("1");
}

async function cleanRedis() {
  const keys = users.flatMap((u) =>
    ["anthropic", "openai", "gemini"].flatMap((p) => [key(u, p), ledgerKeys.fence(u, p)]),
  );
  if (keys.length) await r.del(...keys);
  await r.del(billingKeys.dirtySet, ledgerKeys.reconcile, ledgerKeys.lastFlush);
  for (const f of await r.smembers(ledgerKeys.flushers))
    await r.del(ledgerKeys.flushing(f), ledgerKeys.flusherHeartbeat(f));
  await r.del(ledgerKeys.flushers);
}

beforeAll(async () => {
  c = await rawDb();
  r = new Redis(testEnv().redisUrl);
  direct = makeBilling();
  flusher = makeBilling({ config: { flusherEnabled: true } });
});
beforeEach(async () => {
  await cleanRedis();
  await deleteUsers(c, users);
  users = await createUsers(c, "reconcile", 4);
});
afterAll(async () => {
  await cleanRedis();
  await deleteUsers(c, users);
  await c.end();
  await r.quit();
  await direct.close();
  await flusher.close();
});

describe("reconcile: the report", () => {
  it("reports a usage drift and a limit drift with Redis' and PostgreSQL's values; equal and absent keys are not drift", async () => {
    const [a, b, ok, none] = users;
    await keyWithHash(direct, a, "anthropic");
    await keyWithHash(direct, b, "openai");
    await keyWithHash(direct, ok, "gemini");
    await direct.repo.upsertForUser(none, [{ platform: "anthropic", limits: LIMITS }]); // a row, no hash
    await r.hset(key(a, "anthropic"), "daily_usage", "7.5");
    await r.hset(key(b, "openai"), "daily_limit", "99");

    const res = await reconcile(direct, { userIds: users, ...fast });
    expect(res).toMatchObject({
      mode: "direct",
      checked: 4,
      absent: 1,
      unreadable: 0,
      skipped: 0,
      drifted: 2,
      repaired: 0,
      truncated: false,
    });
    const byUser = new Map(res.items.map((i) => [i.userId, i]));
    expect(byUser.get(a)).toEqual({
      userId: a,
      platform: "anthropic",
      kind: "usage",
      redis: { daily: 7.5, weekly: 1.25, monthly: 1.25, limits: [10, 50, 200] },
      postgres: { daily: 1.25, weekly: 1.25, monthly: 1.25, limits: [10, 50, 200] },
      repaired: false,
    });
    expect(byUser.get(b)).toMatchObject({
      platform: "openai",
      kind: "limits",
      redis: { limits: [99, 50, 200] },
      postgres: { limits: [10, 50, 200] },
    });
    expect(byUser.has(ok)).toBe(false);
    // Read-only: nothing changed. A run over some users is not "the last drift check" …
    expect(await r.hget(key(a, "anthropic"), "daily_usage")).toBe("7.5");
    expect(await r.get(ledgerKeys.reconcile)).toBeNull();
    // … a full run is, as the Cache health panel and /api/health show it.
    const full = await reconcile(direct, fast);
    expect(full.drifted).toBeGreaterThanOrEqual(2);
    expect(JSON.parse((await r.get(ledgerKeys.reconcile))!)).toEqual({
      at: full.at,
      checked: full.checked,
      drifted: full.drifted,
      repaired: 0,
    });
  });

  it("flusher mode: a key in billing:upq:dirty or in a flusher's processing set is skipped (PostgreSQL lags until the flush)", async () => {
    const [a, b, d] = users;
    for (const u of [a, b, d]) await keyWithHash(flusher, u, "anthropic");
    for (const u of [a, b, d]) await r.hset(key(u, "anthropic"), "daily_usage", "4");
    await r.sadd(billingKeys.dirtySet, billingKeys.dirtyMember(a, "anthropic"));
    await r.sadd(ledgerKeys.flushers, "test-flusher");
    await r.sadd(ledgerKeys.flushing("test-flusher"), billingKeys.dirtyMember(b, "anthropic"));

    const res = await reconcile(flusher, { userIds: [a, b, d], ...fast });
    expect(res).toMatchObject({ mode: "flusher", checked: 3, skipped: 2, drifted: 1 });
    expect(res.items.map((i) => i.userId)).toEqual([d]);
  });

  it("a key with a live usage-op lease, or with outbox work pending, is skipped; an expired lease is not", async () => {
    const [a, b, d] = users;
    for (const u of [a, b, d]) await keyWithHash(direct, u, "openai");
    for (const u of [a, b, d]) await r.hset(key(u, "openai"), "daily_usage", "3");
    await r.hset(ledgerKeys.fence(a, "openai"), "l:test.1", String(Date.now() + 60_000));
    await r.hset(ledgerKeys.fence(d, "openai"), "l:test.2", String(Date.now() - 1000));
    await c.query(
      "INSERT INTO cache_invalidation_outbox (cache_key, kind, next_attempt_at) VALUES ($1, 'del', now() + interval '1 hour')",
      [key(b, "openai")],
    );

    const res = await reconcile(direct, { userIds: [a, b, d], ...fast });
    expect(res).toMatchObject({ checked: 3, skipped: 2, drifted: 1 });
    expect(res.items.map((i) => i.userId)).toEqual([d]);
    await c.query("DELETE FROM cache_invalidation_outbox WHERE cache_key = $1", [key(b, "openai")]);
  });

  it("maxKeys stops the scan and says so", async () => {
    for (const u of users) await keyWithHash(direct, u, "gemini", 0);
    const res = await reconcile(direct, { userIds: users, maxKeys: 2, batch: 2, ...fast });
    expect(res).toMatchObject({ checked: 2, truncated: true, drifted: 0 });
  });
});

describe("reconcile: repair", () => {
  it("direct mode: the hash is dropped and the next check rebuilds it equal to PostgreSQL", async () => {
    const [a, b] = users;
    await keyWithHash(direct, a, "anthropic");
    await keyWithHash(direct, b, "anthropic");
    await r.hset(key(a, "anthropic"), "daily_usage", "7.5");
    await r.hset(key(b, "anthropic"), "weekly_limit", "1");

    const res = await reconcile(direct, { userIds: [a, b], repair: true, ...fast });
    expect(res).toMatchObject({ drifted: 2, repaired: 2 });
    expect(res.items.every((i) => i.repaired)).toBe(true);
    for (const u of [a, b]) expect(await r.exists(key(u, "anthropic"))).toBe(0);

    for (const u of [a, b]) {
      await direct.service.checkUserPlatformQuotaEligibility(u, "anthropic");
      const e = decodeQuotaEntry(await r.hgetall(key(u, "anthropic")))!;
      const row = (await direct.repo.getByUserPlatform(u, "anthropic"))!;
      expect([e.dailyUsage, e.weeklyUsage, e.monthlyUsage]).toEqual([
        row.dailyUsage,
        row.weeklyUsage,
        row.monthlyUsage,
      ]);
      expect([e.dailyLimit, e.weeklyLimit, e.monthlyLimit]).toEqual([10, 50, 200]);
      expect(e.dailyUsage).toBe(1.25);
    }
    expect(await reconcile(direct, { userIds: [a, b], ...fast })).toMatchObject({ absent: 0, drifted: 0 });
  });

  it("flusher mode: a usage drift is queued in billing:upq:dirty and, after a flush, PostgreSQL equals Redis; a limit drift is rewritten from PostgreSQL", async () => {
    const [a, b] = users;
    await keyWithHash(flusher, a, "openai");
    await keyWithHash(flusher, b, "openai");
    await r.hset(key(a, "openai"), "daily_usage", "7.5");
    await r.hset(key(b, "openai"), "daily_limit", "99");

    const res = await reconcile(flusher, { userIds: [a, b], repair: true, ...fast });
    expect(res).toMatchObject({ mode: "flusher", drifted: 2, repaired: 2 });
    expect(await r.sismember(billingKeys.dirtySet, billingKeys.dirtyMember(a, "openai"))).toBe(1);
    expect(await r.hget(key(a, "openai"), "daily_usage")).toBe("7.5"); // flusher mode never drops unflushed usage
    expect(await r.hget(key(b, "openai"), "daily_limit")).toBe("10");

    await flusher.flusher().flush();
    expect(await r.sismember(billingKeys.dirtySet, billingKeys.dirtyMember(a, "openai"))).toBe(0);
    const row = await rowText(c, a, "openai");
    const e = decodeQuotaEntry(await r.hgetall(key(a, "openai")))!;
    expect(row).toMatchObject({ du: "7.5000000000", wu: "1.2500000000", mu: "1.2500000000" });
    expect([Number(row.du), Number(row.wu), Number(row.mu)]).toEqual([e.dailyUsage, e.weeklyUsage, e.monthlyUsage]);
    expect(await reconcile(flusher, { userIds: [a, b], ...fast })).toMatchObject({ drifted: 0, skipped: 0 });
  });

  it("compares what enforcement counts, whatever the window starts say: a hash that missed costs is drift", async () => {
    const [a] = users;
    await keyWithHash(direct, a, "anthropic", 2);
    // Redis' monthly window was restarted an hour ago and holds 50; PostgreSQL's is older and holds 2.
    await r.hset(
      key(a, "anthropic"),
      "monthly_usage",
      "50",
      "monthly_window_start",
      String(Math.floor((Date.now() - 3600_000) / 1000)),
    );
    const res = await reconcile(direct, { userIds: [a], ...fast });
    expect(res).toMatchObject({ drifted: 1 });
    expect(res.items[0]).toMatchObject({ kind: "usage", redis: { monthly: 50 }, postgres: { monthly: 2 } });
  });

  it("flusher mode never lowers recorded usage: where PostgreSQL has more (Redis lost data), Redis is raised to it", async () => {
    const [a] = users;
    await keyWithHash(flusher, a, "anthropic", 0);
    await flusher.repo.incrementUsageWithReset(a, "anthropic", 5, Date.now()); // PostgreSQL: 5 (e.g. an earlier flush)
    // Redis was restored from an old snapshot: its monthly usage is 1 in the same window.
    const row = await flusher.repo.getByUserPlatform(a, "anthropic");
    await r.hset(
      key(a, "anthropic"),
      "monthly_usage",
      "1",
      "monthly_window_start",
      String(Math.floor(row!.monthlyWindowStart! / 1000)),
    );
    const res = await reconcile(flusher, { userIds: [a], repair: true, ...fast });
    expect(res).toMatchObject({ drifted: 1, repaired: 1 });
    expect(await r.hget(key(a, "anthropic"), "monthly_usage")).toBe("5");
    await flusher.flusher().flush();
    expect((await rowText(c, a, "anthropic")).mu).toBe("5.0000000000");
  });

  it("repairKey: direct drops the hash, flusher queues the key and rewrites its limits, no row → no-row", async () => {
    const [a, b, d] = users;
    await keyWithHash(direct, a, "gemini");
    await r.hset(key(a, "gemini"), "daily_usage", "9");
    expect(await repairKey(direct, a, "gemini")).toBe("dropped");
    expect(await r.exists(key(a, "gemini"))).toBe(0);

    await keyWithHash(flusher, b, "gemini");
    await r.hset(key(b, "gemini"), "monthly_limit", "1");
    expect(await repairKey(flusher, b, "gemini")).toBe("flush-queued");
    expect(await r.sismember(billingKeys.dirtySet, billingKeys.dirtyMember(b, "gemini"))).toBe(1);
    expect(await r.hget(key(b, "gemini"), "monthly_limit")).toBe("200");

    expect(await repairKey(flusher, d, "gemini")).toBe("no-row");
  });
});

describe("npm run reconcile", () => {
  const cli = (args: string[], env: Record<string, string> = {}) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn("node_modules/.bin/tsx", ["scripts/reconcile.ts", ...args], {
        env: {
          ...process.env,
          DATABASE_URL: testEnv().databaseUrl,
          REDIS_URL: testEnv().redisUrl,
          QUOTA_FLUSHER_ENABLED: "false",
          ...env,
        },
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => (stdout += d));
      child.stderr.on("data", (d) => (stderr += d));
      child.on("exit", (code) => resolve({ code, stdout, stderr }));
    });

  it("exit 0 without drift, 1 with drift (the table names the key), 0 after --repair", async () => {
    const [a, b] = users;
    await keyWithHash(direct, a, "anthropic");
    await keyWithHash(direct, b, "anthropic");
    const only = ["--user", `${a},${b}`];

    const clean = await cli([...only]);
    expect(clean).toMatchObject({ code: 0 });
    expect(clean.stdout).toContain("no drift");
    expect(clean.stdout).toMatch(
      /checked 2 · absent 0 · skipped \(expected\) 0 · drifted 0 · repaired 0 · mode direct/,
    );

    await r.hset(key(a, "anthropic"), "daily_usage", "7.5");
    const drift = await cli([...only]);
    expect(drift.code).toBe(1);
    const line = drift.stdout.split("\n").find((l) => l.startsWith(String(a)))!;
    expect(line.split(/\s{2,}/)).toEqual([
      String(a),
      "Claude (anthropic)",
      "usage daily",
      "7.5/1.25/1.25",
      "1.25/1.25/1.25",
      "10/50/200",
      "10/50/200",
      "no",
    ]);
    expect(drift.stdout).toContain("drifted 1 · repaired 0 · mode direct");

    const json = await cli([...only, "--json"]);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({
      mode: "direct",
      checked: 2,
      drifted: 1,
      remaining: 1,
      items: [{ userId: a, kind: "usage", redis: { daily: 7.5 }, postgres: { daily: 1.25 } }],
    });

    const repaired = await cli([...only, "--repair"]);
    expect(repaired.code).toBe(0);
    expect(repaired.stdout).toContain("drifted 1 · repaired 1");
    expect(await r.exists(key(a, "anthropic"))).toBe(0);
  });

  it("QUOTA_FLUSHER_ENABLED=true: a dirty key is skipped (exit 0); --max is reported", async () => {
    const [a, b] = users;
    await keyWithHash(flusher, a, "openai");
    await keyWithHash(flusher, b, "openai");
    await r.hset(key(a, "openai"), "daily_usage", "5");
    await r.sadd(billingKeys.dirtySet, billingKeys.dirtyMember(a, "openai"));
    const res = await cli(["--user", `${a},${b}`], { QUOTA_FLUSHER_ENABLED: "true" });
    expect(res.code).toBe(0);
    expect(res.stdout).toContain("checked 2 · absent 0 · skipped (expected) 1 · drifted 0 · repaired 0 · mode flusher");
    const capped = await cli(["--user", `${a},${b}`, "--max", "1"], { QUOTA_FLUSHER_ENABLED: "true" });
    expect(capped.code).toBe(0);
    expect(capped.stdout).toContain("mode flusher · stopped at --max 1");
  });

  it("exit 2 on bad arguments and unreachable stores, with a clear message", async () => {
    for (const [args, msg] of [
      [["--user", "abc"], /--user must be a comma-separated list of positive user ids/],
      [["--user", "1,,2"], /--user must be/],
      [["--max", "0"], /--max must be a positive whole number/],
      [["--bogus"], /Unknown option '--bogus'/],
      [["extra"], /Unexpected argument 'extra'/],
    ] as const) {
      const res = await cli([...args]);
      expect(res.code, args.join(" ")).toBe(2);
      expect(res.stderr).toMatch(msg);
    }
    const port = await freePort();
    const redisDown = await cli([], { REDIS_URL: `redis://127.0.0.1:${port}` });
    expect(redisDown.code).toBe(2);
    expect(redisDown.stderr).toContain(`reconcile: Redis at 127.0.0.1:${port} is not reachable`);
    const pgDown = await cli([], { DATABASE_URL: `postgresql://postgres:secret@127.0.0.1:${port}/x` });
    expect(pgDown.code).toBe(2);
    expect(pgDown.stderr).toContain(`reconcile: PostgreSQL at 127.0.0.1:${port} is not usable`);
    expect(pgDown.stderr).not.toContain("secret");
    const noRedis = await cli([], { REDIS_URL: "" });
    expect(noRedis.code).toBe(2);
    expect(noRedis.stderr).toContain("REDIS_URL is required");
  });
});
