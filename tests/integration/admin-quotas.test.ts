import Redis from "ioredis";
import type { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { billingKeys } from "@/lib/billing/keys";
import { expediteOutbox, pendingInvalidations } from "@/lib/billing/outbox";
import { DEFAULT_PLATFORMS } from "@/lib/billing/platforms";
import type { BillingRuntime } from "@/lib/billing/runtime";
import type { QuotaWindow } from "@/lib/billing/vocabulary";
import { resetUserQuotaWindow, saveUserQuotas, type SaveQuotaInput } from "@/lib/quota/admin";
import { readQuotaVersion } from "@/lib/quota/version";

import { createUsers, deleteUsers, rawDb, rowText } from "../support/billing";
import { makeBilling } from "../support/billing-runtime";
import { PrivateRedis } from "../support/redis-server";
import { testEnv } from "../support/test-env";

/**
 * Admin quota operations through the app's own modules (real PostgreSQL and Redis): the
 * whole-replace save, the calendar-anchored reset, their audit rows, and cache invalidation that
 * survives a Redis outage.
 */
let c: Client;
let r: Redis;
let users: number[] = [];
const admin = { id: 1, email: "quota-admin@example.com" };
const L = (daily: number | null, weekly: number | null = null, monthly: number | null = null) => ({
  daily,
  weekly,
  monthly,
});

type Actor = { id: number; email: string };
const runtimes: BillingRuntime[] = [];

/**
 * lib/quota/admin.ts on a billing runtime of the test's own, wired to `redisUrl` (injected as deps, as
 * the app injects its own). The repairer is not started: the tests run its passes themselves, so
 * nothing depends on timing.
 */
function app(redisUrl: string, o: { flusher?: boolean } = {}) {
  const billing = makeBilling({ redisUrl, config: { flusherEnabled: !!o.flusher } });
  runtimes.push(billing);
  const deps = { billing };
  return {
    billing,
    pool: billing.pool,
    pendingInvalidations,
    expediteOutbox,
    /** The version a modal opened now would send. */
    versionOf: (userId: number) => readQuotaVersion(billing.pool, userId),
    saveUserQuotas: (userId: number, quotas: SaveQuotaInput, actor: Actor, version: string) =>
      saveUserQuotas(userId, quotas, actor, version, deps),
    resetUserQuotaWindow: (userId: number, platform: string, window: QuotaWindow, actor: Actor, now?: number) =>
      resetUserQuotaWindow(userId, platform, window, actor, { ...deps, now }),
  };
}

beforeAll(async () => {
  c = await rawDb();
  r = new Redis(testEnv().redisUrl);
  users = await createUsers(c, "adminq", 4);
});
afterAll(async () => {
  await deleteUsers(c, users);
  await c.query("DELETE FROM cache_invalidation_outbox");
  for (const rt of runtimes) await rt.close();
  await c.end();
  await r.quit();
});

describe("saveUserQuotas", () => {
  it("whole replace keeps usage, removes the cache entries of every platform, and is audited before → after", async () => {
    const a = await app(testEnv().redisUrl);
    const u = users[0];
    await a.billing.repo.upsertForUser(u, [
      { platform: "anthropic", limits: L(10) },
      { platform: "openai", limits: L(5) },
    ]);
    await a.billing.repo.incrementUsageWithReset(u, "anthropic", 3.5, Date.now());
    // Entries built before the change (what the gateway would be enforcing).
    await a.billing.service.checkUserPlatformQuotaEligibility(u, "anthropic");
    await a.billing.service.checkUserPlatformQuotaEligibility(u, "kimi"); // sentinel
    expect(
      await r.exists(billingKeys.userPlatformQuota(u, "anthropic"), billingKeys.userPlatformQuota(u, "kimi")),
    ).toBe(2);

    const res = await a.saveUserQuotas(
      u,
      DEFAULT_PLATFORMS.map((p) => ({ platform: p, limits: p === "anthropic" ? L(5) : L(null) })),
      admin,
      await a.versionOf(u),
    );
    expect(res.ok).toBe(true);
    for (const p of DEFAULT_PLATFORMS) expect(await r.exists(billingKeys.userPlatformQuota(u, p)), p).toBe(0);
    expect(await rowText(c, u, "anthropic")).toMatchObject({ dl: "5.0000000000", du: "3.5000000000" });
    expect(await rowText(c, u, "openai")).toMatchObject({ dl: null });
    const view = (
      res as {
        view: { platform_quotas: { platform: string; daily_usage_usd: number; daily_limit_usd: number | null }[] };
      }
    ).view;
    expect(view.platform_quotas.map((q) => q.platform)).toEqual([...DEFAULT_PLATFORMS]);
    expect(view.platform_quotas[0]).toMatchObject({ platform: "anthropic", daily_usage_usd: 3.5, daily_limit_usd: 5 });

    const audit = await c.query(
      "SELECT actor_email, action, changes FROM console_audit_logs WHERE target_type = 'user' AND target_id = $1 ORDER BY id DESC LIMIT 1",
      [String(u)],
    );
    expect(audit.rows[0]).toMatchObject({ actor_email: admin.email, action: "user.platform_quotas.update" });
    expect(audit.rows[0].changes).toEqual(
      expect.arrayContaining([
        { key: "platform_quota", platform: "anthropic", window: "daily", before: 10, after: 5 },
        { key: "platform_quota", platform: "openai", window: "daily", before: 5, after: null },
        { key: "platform_quota", platform: "gemini", window: "daily", before: "absent", after: null },
      ]),
    );
    // The enforcement sees the new limit on the very next check: 3.5 < 5 allowed, then blocked after $1.5 more.
    expect((await a.billing.service.checkUserPlatformQuotaEligibility(u, "anthropic")).allowed).toBe(true);
    await a.billing.service.recordUsage({ userId: u, platform: "anthropic", cost: 1.5 });
    expect(await a.billing.service.checkUserPlatformQuotaEligibility(u, "anthropic")).toMatchObject({ allowed: false });
    // The outbox keeps the keys for the second (delayed) delete, none pending confirmation.
    expect(await a.pendingInvalidations(a.pool, billingKeys.userPlatformQuota(u, ""))).toMatchObject({ count: 0 });
    const queued = await c.query("SELECT count(*)::int AS n FROM cache_invalidation_outbox WHERE cache_key LIKE $1", [
      `billing:user_platform_quota:${u}:%`,
    ]);
    expect(queued.rows[0].n).toBe(DEFAULT_PLATFORMS.length);
  });

  it("an unknown user is USER_NOT_FOUND and writes nothing", async () => {
    const a = await app(testEnv().redisUrl);
    const before = await c.query("SELECT count(*)::int AS n FROM console_audit_logs");
    expect(
      await a.saveUserQuotas(
        2_000_000_001,
        [{ platform: "openai", limits: L(1) }],
        admin,
        await a.versionOf(2_000_000_001),
      ),
    ).toEqual({ ok: false, code: "USER_NOT_FOUND" });
    expect((await c.query("SELECT count(*)::int AS n FROM console_audit_logs")).rows[0].n).toBe(before.rows[0].n);
  });
});

describe("resetUserQuotaWindow", () => {
  it("sets usage 0 with the calendar start, keeps other windows, invalidates that key, audits; missing row → QUOTA_NOT_FOUND", async () => {
    const a = await app(testEnv().redisUrl);
    const u = users[1];
    await a.billing.repo.upsertForUser(u, [{ platform: "gemini", limits: L(5, 50) }]);
    const now = Date.now();
    await a.billing.repo.incrementUsageWithReset(u, "gemini", 4, now);
    await a.billing.service.checkUserPlatformQuotaEligibility(u, "gemini");
    expect(await a.resetUserQuotaWindow(u, "gemini", "daily", admin, now)).toMatchObject({ ok: true });
    const row = await rowText(c, u, "gemini");
    expect(row).toMatchObject({ du: "0.0000000000", wu: "4.0000000000" });
    expect(row.ds.getTime()).toBe(a.billing.clock.startOfDay(now));
    expect(await r.exists(billingKeys.userPlatformQuota(u, "gemini"))).toBe(0);
    const audit = await c.query(
      "SELECT action, changes FROM console_audit_logs WHERE target_id = $1 ORDER BY id DESC LIMIT 1",
      [String(u)],
    );
    expect(audit.rows[0]).toEqual({
      action: "user.platform_quotas.reset",
      changes: [{ key: "usage", platform: "gemini", window: "daily", before: 4, after: 0 }],
    });
    expect(await a.resetUserQuotaWindow(u, "openai", "daily", admin)).toEqual({ ok: false, code: "QUOTA_NOT_FOUND" });
    expect(await a.resetUserQuotaWindow(2_000_000_001, "openai", "daily", admin)).toEqual({
      ok: false,
      code: "USER_NOT_FOUND",
    });
  });
});

describe("flusher mode: admin changes never drop usage the database has not seen (issue 9 §1)", () => {
  it("a save and a reset during traffic keep every unflushed cost; the flush then writes them all", async () => {
    const a = await app(testEnv().redisUrl, { flusher: true });
    const u = users[3];
    await a.billing.repo.upsertForUser(u, [{ platform: "anthropic", limits: L(100, 1000, 10_000) }]);
    await a.billing.service.checkUserPlatformQuotaEligibility(u, "anthropic");
    const key = billingKeys.userPlatformQuota(u, "anthropic");
    const record = async (n: number, cost: number) => {
      for (let i = 0; i < n; i++)
        expect((await a.billing.service.recordUsage({ userId: u, platform: "anthropic", cost })).cacheApplied).toBe(
          true,
        );
    };
    await record(10, 0.25); // 2.5 in Redis only (flusher mode)
    expect((await rowText(c, u, "anthropic")).mu).toBe("0.0000000000");

    const res = await a.saveUserQuotas(
      u,
      DEFAULT_PLATFORMS.map((p) => ({ platform: p, limits: p === "anthropic" ? L(50, 1000, 10_000) : L(null) })),
      admin,
      await a.versionOf(u),
    );
    expect(res.ok).toBe(true);
    // In place: the limit changed, the unflushed usage is still there (upstream DELs it → lost).
    expect(await r.hmget(key, "daily_limit", "daily_usage", "monthly_usage")).toEqual(["50", "2.5", "2.5"]);
    await record(4, 0.5); // +2

    expect((await a.resetUserQuotaWindow(u, "anthropic", "daily", admin)).ok).toBe(true);
    expect(await r.hmget(key, "daily_usage", "weekly_usage", "monthly_usage")).toEqual(["0", "4.5", "4.5"]);
    await record(2, 1); // +2
    // The second passes (limits re-applied, reset not applied twice) keep everything.
    await c.query("UPDATE cache_invalidation_outbox SET next_attempt_at = now() WHERE cache_key LIKE $1", [
      `billing:user_platform_quota:${u}:%`,
    ]);
    await a.billing.repairer.runOnce();
    expect(await r.hmget(key, "daily_usage", "weekly_usage", "monthly_usage", "daily_limit")).toEqual([
      "2",
      "6.5",
      "6.5",
      "50",
    ]);

    const flusher = a.billing.flusher();
    await flusher.flush();
    await flusher.stop();
    expect(await rowText(c, u, "anthropic")).toMatchObject({
      dl: "50.0000000000",
      du: "2.0000000000",
      wu: "6.5000000000",
      mu: "6.5000000000",
    });
  });
});

describe("cache invalidation through a Redis outage", () => {
  it("the save succeeds with Redis stopped; the outbox holds the keys; once Redis is back the worker deletes them unprompted", async () => {
    const pr = await PrivateRedis.start();
    try {
      const a = await app(pr.url);
      const u = users[2];
      await a.billing.repo.upsertForUser(u, [{ platform: "openai", limits: L(100) }]);
      await a.billing.service.checkUserPlatformQuotaEligibility(u, "openai"); // the old entry: limit 100
      const probe = new Redis(pr.url);
      probe.on("error", () => {});
      expect(await probe.hget(billingKeys.userPlatformQuota(u, "openai"), "daily_limit")).toBe("100");
      await pr.down();

      const res = await a.saveUserQuotas(
        u,
        DEFAULT_PLATFORMS.map((p) => ({ platform: p, limits: p === "openai" ? L(1) : L(null) })),
        admin,
        await a.versionOf(u),
      );
      expect(res.ok).toBe(true);
      expect((await rowText(c, u, "openai")).dl).toBe("1.0000000000");
      const pending = await a.pendingInvalidations(a.pool, billingKeys.userPlatformQuota(u, ""));
      expect(pending.count).toBe(DEFAULT_PLATFORMS.length);

      // The repairer's passes keep failing (and backing off) while Redis is down.
      const attempts = async () =>
        (
          await c.query("SELECT max(attempts)::int AS n FROM cache_invalidation_outbox WHERE cache_key LIKE $1", [
            `billing:user_platform_quota:${u}:%`,
          ])
        ).rows[0].n;
      for (let i = 0; i < 3; i++) {
        await c.query("UPDATE cache_invalidation_outbox SET next_attempt_at = now() WHERE cache_key LIKE $1", [
          `billing:user_platform_quota:${u}:%`,
        ]);
        await a.billing.repairer.runOnce();
      }
      expect(await attempts()).toBeGreaterThanOrEqual(2);
      // Redis returns (empty after the restart): put the stale entry back as if it had survived.
      await pr.up();
      probe.disconnect();
      const writer = new Redis(pr.url);
      await writer.hset(billingKeys.userPlatformQuota(u, "openai"), "daily_limit", "100", "schema_version", "1");
      writer.disconnect();
      // Redis answering makes every backed-off row due at once; two passes (first + second) drain it.
      await a.expediteOutbox(a.pool);
      await a.billing.repairer.runOnce();
      await c.query("UPDATE cache_invalidation_outbox SET next_attempt_at = now() WHERE cache_key LIKE $1", [
        `billing:user_platform_quota:${u}:%`,
      ]);
      await a.billing.repairer.runOnce();
      const check = new Redis(pr.url);
      expect(await check.exists(billingKeys.userPlatformQuota(u, "openai"))).toBe(0);
      check.disconnect();
      const left = await c.query("SELECT count(*)::int AS n FROM cache_invalidation_outbox WHERE cache_key LIKE $1", [
        `billing:user_platform_quota:${u}:%`,
      ]);
      expect(left.rows[0].n).toBe(0);
    } finally {
      await pr.down();
    }
  });
});
