import type { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { DEFAULT_PLATFORMS } from "@/lib/billing/platforms";
import type { BillingRuntime } from "@/lib/billing/runtime";
import type { Limits, QuotaWindow } from "@/lib/billing/vocabulary";
import { getUserQuotasView, resetUserQuotaWindow, saveUserQuotas, type SaveQuotaInput } from "@/lib/quota/admin";

import { createUsers, deleteUsers, rawDb } from "../support/billing";
import { makeBilling } from "../support/billing-runtime";

/**
 * Optimistic concurrency of the per-user quota save (issue 10 §6), through the app's own modules on
 * real PostgreSQL and Redis. Guards the lost update where admin A's stale modal silently put back
 * what admin B had just set — and the audit then said A removed B's cap.
 */
let c: Client;
let users: number[] = [];
const adminA = { id: 1, email: "admin-a@example.com" };
const adminB = { id: 2, email: "admin-b@example.com" };
const L = (daily: number | null, weekly: number | null = null, monthly: number | null = null): Limits => ({
  daily,
  weekly,
  monthly,
});
/** What the modal sends: every registry platform, unlimited unless given. */
const all = (over: Partial<Record<string, Limits>> = {}) =>
  DEFAULT_PLATFORMS.map((p) => ({ platform: p, limits: over[p] ?? L(null) }));

type Actor = { id: number; email: string };
const runtimes: BillingRuntime[] = [];

/** lib/quota/admin.ts on the test's own billing runtime (direct mode, no background repairer), injected as deps. */
async function app() {
  const billing = makeBilling();
  runtimes.push(billing);
  const deps = { billing };
  return {
    billing,
    getUserQuotasView: (userId: number) => getUserQuotasView(userId, deps),
    saveUserQuotas: (userId: number, quotas: SaveQuotaInput, actor: Actor, version: string) =>
      saveUserQuotas(userId, quotas, actor, version, deps),
    resetUserQuotaWindow: (userId: number, platform: string, window: QuotaWindow, actor: Actor) =>
      resetUserQuotaWindow(userId, platform, window, actor, deps),
  };
}

async function state(userId: number) {
  const rows = await c.query(
    "SELECT platform, daily_limit_usd::text AS d FROM user_platform_quotas WHERE user_id = $1 AND deleted_at IS NULL AND daily_limit_usd IS NOT NULL ORDER BY platform",
    [userId],
  );
  const audit = await c.query(
    "SELECT actor_email, action, changes FROM console_audit_logs WHERE target_type = 'user' AND target_id = $1 ORDER BY id",
    [String(userId)],
  );
  const outbox = await c.query("SELECT count(*)::int AS n FROM cache_invalidation_outbox WHERE cache_key LIKE $1", [
    `billing:user_platform_quota:${userId}:%`,
  ]);
  return {
    limits: Object.fromEntries(rows.rows.map((r) => [r.platform, r.d])),
    audit: audit.rows,
    outbox: outbox.rows[0].n,
  };
}

beforeAll(async () => {
  c = await rawDb();
  users = await createUsers(c, "qversion", 6);
});
afterAll(async () => {
  await deleteUsers(c, users);
  for (const rt of runtimes) await rt.close();
  await c.end();
});

describe("the per-user quota save refuses a stale version", () => {
  it("B sets openai daily 5; A saves anthropic from the modal opened before → CONFLICT, openai still 5, only B's change audited", async () => {
    const a = await app();
    const u = users[0];
    const openedByA = (await a.getUserQuotasView(u))!;
    const openedByB = (await a.getUserQuotasView(u))!;
    expect(openedByA.version).toBe(openedByB.version);

    const b = await a.saveUserQuotas(u, all({ openai: L(5) }), adminB, openedByB.version);
    expect(b.ok).toBe(true);
    const afterB = await state(u);
    expect(afterB.limits).toEqual({ openai: "5.0000000000" });

    // A's modal still shows openai unlimited and sends it back with anthropic daily 7.
    expect(await a.saveUserQuotas(u, all({ anthropic: L(7) }), adminA, openedByA.version)).toEqual({
      ok: false,
      code: "CONFLICT",
    });
    const afterA = await state(u);
    expect(afterA).toEqual(afterB); // nothing written, audited or queued for Redis
    expect(afterA.audit.map((r) => r.actor_email)).toEqual(["admin-b@example.com"]);
    expect(afterA.audit[0].changes).toContainEqual({
      key: "platform_quota",
      platform: "openai",
      window: "daily",
      before: "absent",
      after: 5,
    });

    // Reloaded, A's save goes through and keeps B's cap.
    const reloaded = (await a.getUserQuotasView(u))!;
    expect(reloaded.version).not.toBe(openedByA.version);
    const again = await a.saveUserQuotas(u, all({ openai: L(5), anthropic: L(7) }), adminA, reloaded.version);
    expect(again.ok).toBe(true);
    expect((await state(u)).limits).toEqual({ anthropic: "7.0000000000", openai: "5.0000000000" });
  });

  it("two saves from one version at the same moment: exactly one is applied", async () => {
    const a = await app();
    const u = users[1];
    for (let round = 0; round < 5; round++) {
      const v = (await a.getUserQuotasView(u))!.version;
      const results = await Promise.all([
        a.saveUserQuotas(u, all({ openai: L(round + 1) }), adminA, v),
        a.saveUserQuotas(u, all({ gemini: L(round + 1) }), adminB, v),
      ]);
      expect(results.filter((r) => r.ok)).toHaveLength(1);
      expect(results.filter((r) => !r.ok)).toEqual([{ ok: false, code: "CONFLICT" }]);
    }
    expect((await state(u)).audit).toHaveLength(5);
  });

  it("a version is never reused: saving the old values back, a reset and clear all each move it on", async () => {
    const a = await app();
    const u = users[2];
    await a.billing.repo.upsertForUser(u, [{ platform: "openai", limits: L(10) }]);
    const v0 = (await a.getUserQuotasView(u))!.version;
    const v1 = (await a.saveUserQuotas(u, all({ openai: L(20) }), adminB, v0)) as { ok: true; applied: { to: string } };
    const v2 = (await a.saveUserQuotas(u, all({ openai: L(10) }), adminB, v1.applied.to)) as {
      ok: true;
      applied: { to: string };
    };
    expect(new Set([v0, v1.applied.to, v2.applied.to]).size).toBe(3);
    // The limits are back to what v0 showed, and a save from v0 is still refused (no ABA).
    expect(await a.saveUserQuotas(u, all({ openai: L(99) }), adminA, v0)).toEqual({ ok: false, code: "CONFLICT" });

    // A reset keeps the limits but moves the version; it says which version it was applied to.
    const reset = await a.resetUserQuotaWindow(u, "openai", "daily", adminB);
    expect(reset).toMatchObject({ ok: true, applied: { from: v2.applied.to } });
    const afterReset = (reset as { applied: { to: string } }).applied.to;
    expect(afterReset).not.toBe(v2.applied.to);
    expect((await a.getUserQuotasView(u))!.version).toBe(afterReset);
    expect(await a.saveUserQuotas(u, all({ openai: L(1) }), adminA, v2.applied.to)).toEqual({
      ok: false,
      code: "CONFLICT",
    });

    // Clear all is a save of every platform unlimited: it moves the version like any save.
    const cleared = await a.saveUserQuotas(u, all(), adminB, afterReset);
    expect(cleared.ok).toBe(true);
    expect(await a.saveUserQuotas(u, all({ openai: L(3) }), adminA, afterReset)).toEqual({
      ok: false,
      code: "CONFLICT",
    });
    expect((await state(u)).limits).toEqual({});
  });

  it("a limit changed outside the console makes a stale save conflict; recorded usage does not", async () => {
    const a = await app();
    const u = users[3];
    await a.billing.repo.upsertForUser(u, [{ platform: "openai", limits: L(10) }]);
    const v = (await a.getUserQuotasView(u))!.version;
    // The gateway records usage and rolls windows all the time: an open modal stays valid.
    await a.billing.service.recordUsage({ userId: u, platform: "openai", cost: 1.25 });
    await a.billing.repo.incrementUsageWithReset(u, "openai", 0.5, Date.now());
    expect((await a.getUserQuotasView(u))!.version).toBe(v);
    // The Go gateway's own admin API (or SQL) changes a limit: same refusal as a console save.
    await a.billing.repo.upsertForUser(u, [{ platform: "openai", limits: L(10.0000000001) }]);
    expect(await a.saveUserQuotas(u, all({ openai: L(10) }), adminA, v)).toEqual({ ok: false, code: "CONFLICT" });
    expect((await state(u)).limits).toEqual({ openai: "10.0000000001" });
  });

  it("a made-up or empty version is CONFLICT; an unknown user is still USER_NOT_FOUND", async () => {
    const a = await app();
    const u = users[4];
    for (const v of ["", "0", "0.", "garbage", `${(await a.getUserQuotasView(u))!.version}x`]) {
      expect(await a.saveUserQuotas(u, all({ openai: L(1) }), adminA, v)).toEqual({ ok: false, code: "CONFLICT" });
    }
    expect((await state(u)).audit).toEqual([]);
    expect(await a.saveUserQuotas(2_000_000_001, all(), adminA, "0.x")).toEqual({ ok: false, code: "USER_NOT_FOUND" });
  });
});
