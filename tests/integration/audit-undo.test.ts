import Redis from "ioredis";
import type { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { undoAuditEntry } from "@/lib/audit/undo";
import { AUTH_SOURCES } from "@/lib/auth-sources";
import { billingKeys } from "@/lib/billing/keys";
import type { BillingRuntime } from "@/lib/billing/runtime";
import { saveUserQuotas, type SaveQuotaInput } from "@/lib/quota/admin";
import { readQuotaVersion } from "@/lib/quota/version";
import type { QuotaDefaultsForm } from "@/lib/settings/quota-schema";
import { readQuotaDefaults, saveQuotaDefaults } from "@/lib/settings/store";
import { setUserRole, setUserStatus } from "@/lib/users/users";

import { createUsers, deleteUsers, rawDb } from "../support/billing";
import { makeBilling } from "../support/billing-runtime";
import { testEnv } from "../support/test-env";

/**
 * Undo from the audit log on real PostgreSQL and Redis: an undo restores the entry's "before"
 * values through the same writer as the original (so it is audited, with undo_of, and the user's
 * cache keys are dropped as after any save), and it is refused — nothing written, nothing audited —
 * when a value the entry set has changed since. Guards the regression of an undo silently
 * overwriting a newer admin's change.
 */
let c: Client;
let r: Redis;
let rt: BillingRuntime;
let users: number[] = [];
const run = Math.floor(Math.random() * 1e9);
const admin = { id: 0, email: `undo-admin-${run}@undo.test` };
const L = (daily: number | null, weekly: number | null = null, monthly: number | null = null) => ({
  daily,
  weekly,
  monthly,
});

const deps = () => ({ billing: rt });
const limitsOf = async (u: number) =>
  (
    await c.query(
      `SELECT platform, daily_limit_usd::float8 AS d, weekly_limit_usd::float8 AS w, monthly_limit_usd::float8 AS m
       FROM user_platform_quotas WHERE user_id = $1 AND deleted_at IS NULL ORDER BY platform`,
      [u],
    )
  ).rows;
async function save(u: number, quotas: SaveQuotaInput) {
  const res = await saveUserQuotas(u, quotas, admin, await readQuotaVersion(rt.pool, u), deps());
  expect(res.ok).toBe(true);
  return lastEntry(u);
}
async function lastEntry(u: number | null) {
  const { rows } = await c.query(
    `SELECT id::int AS id, action, undo_of::int AS undo_of, changes FROM console_audit_logs
     WHERE actor_email = $1 AND ($2::text IS NULL OR target_id = $2) ORDER BY id DESC LIMIT 1`,
    [admin.email, u === null ? null : String(u)],
  );
  return rows[0] as { id: number; action: string; undo_of: number | null; changes: unknown[] };
}
const auditCount = async () =>
  Number(
    (await c.query("SELECT count(*) FROM console_audit_logs WHERE actor_email = $1", [admin.email])).rows[0].count,
  );

async function defaultsForm(): Promise<QuotaDefaultsForm> {
  const current = await readQuotaDefaults();
  const sources = Object.fromEntries(
    AUTH_SOURCES.map((s) => [
      s,
      { grantOnSignup: current.sources[s].grantOnSignup, overrides: structuredClone(current.sources[s].overrides) },
    ]),
  ) as QuotaDefaultsForm["sources"];
  return { version: current.version, system: structuredClone(current.system), sources };
}

beforeAll(async () => {
  c = await rawDb();
  r = new Redis(testEnv().redisUrl);
  rt = makeBilling();
  const { rows } = await c.query(
    "INSERT INTO users (email, password_hash, role) VALUES ($1, 'x', 'admin') RETURNING id",
    [admin.email],
  );
  admin.id = Number(rows[0].id);
  users = await createUsers(c, `undo-${run}`, 2);
});
afterAll(async () => {
  await c.query("DELETE FROM console_audit_logs WHERE actor_email = $1", [admin.email]);
  await c.query("DELETE FROM settings WHERE key = 'default_platform_quotas' OR key LIKE 'auth_source_default_%'");
  await c.query("DELETE FROM cache_invalidation_outbox");
  await deleteUsers(c, [...users, admin.id]);
  await rt.close();
  await r.quit();
  await c.end();
});

describe("undo of a per-user quota change", () => {
  it("restores the before values as a new audited change and drops the user's cache keys", async () => {
    const u = users[0];
    await save(u, [
      { platform: "anthropic", limits: L(10, 50) },
      { platform: "openai", limits: L(5) },
    ]);
    const edit = await save(u, [
      { platform: "anthropic", limits: L(20, 50) },
      { platform: "openai", limits: L(5, 9) },
    ]);
    // A cache entry the gateway would have built from the edited row.
    const key = billingKeys.userPlatformQuota(u, "anthropic");
    await r.hset(key, "daily_limit", "20");

    const res = await undoAuditEntry(edit.id, admin, deps());
    expect(res).toEqual({ ok: true, action: "user.platform_quotas.update", changed: 2 });
    expect(await limitsOf(u)).toEqual([
      { platform: "anthropic", d: 10, w: 50, m: null },
      { platform: "openai", d: 5, w: null, m: null },
    ]);
    const undo = await lastEntry(u);
    expect(undo.action).toBe("user.platform_quotas.update");
    expect(undo.undo_of).toBe(edit.id);
    expect(undo.changes).toEqual([
      { key: "platform_quota", platform: "anthropic", window: "daily", before: 20, after: 10 },
      { key: "platform_quota", platform: "openai", window: "weekly", before: 9, after: null },
    ]);
    expect(await r.exists(key)).toBe(0);
  });

  it("refuses when a value the entry set changed since, writing and auditing nothing; undoing newest first works", async () => {
    const u = users[1];
    await save(u, [{ platform: "anthropic", limits: L(10) }]);
    const a = await save(u, [{ platform: "anthropic", limits: L(20) }]);
    const b = await save(u, [{ platform: "anthropic", limits: L(30) }]);
    const count = await auditCount();
    const version = await readQuotaVersion(rt.pool, u);

    expect(await undoAuditEntry(a.id, admin, deps())).toEqual({ ok: false, code: "UNDO_CONFLICT" });
    expect(await limitsOf(u)).toEqual([{ platform: "anthropic", d: 30, w: null, m: null }]);
    expect(await auditCount()).toBe(count);
    expect(await readQuotaVersion(rt.pool, u)).toBe(version);

    // Newest first: b (30 → 20), then a (20 → 10); undoing b twice is refused (its "after" is gone).
    expect((await undoAuditEntry(b.id, admin, deps())).ok).toBe(true);
    expect(await undoAuditEntry(b.id, admin, deps())).toEqual({ ok: false, code: "UNDO_CONFLICT" });
    expect((await undoAuditEntry(a.id, admin, deps())).ok).toBe(true);
    expect(await limitsOf(u)).toEqual([{ platform: "anthropic", d: 10, w: null, m: null }]);
    expect(await auditCount()).toBe(count + 2);

    // A change made outside the console (the gateway's API, SQL) also makes an undo conflict.
    const c2 = await save(u, [{ platform: "anthropic", limits: L(15) }]);
    await c.query(
      "UPDATE user_platform_quotas SET daily_limit_usd = 16 WHERE user_id = $1 AND platform = 'anthropic'",
      [u],
    );
    expect(await undoAuditEntry(c2.id, admin, deps())).toEqual({ ok: false, code: "UNDO_CONFLICT" });
  });

  it("a first save that created rows is undone by removing them again", async () => {
    const [u] = await createUsers(c, `undo-new-${run}`, 1);
    users.push(u);
    const created = await save(u, [{ platform: "gemini", limits: L(3) }]);
    expect(await limitsOf(u)).toHaveLength(1);
    expect((await undoAuditEntry(created.id, admin, deps())).ok).toBe(true);
    expect(await limitsOf(u)).toEqual([]);
  });
});

describe("undo of a quota defaults change", () => {
  it("restores the cells and grant switch it changed, audited with undo_of; a later change makes it conflict", async () => {
    const form = await defaultsForm();
    const beforeWeekly = form.system.gemini.weekly;
    const beforeGrant = form.sources.github.grantOnSignup;
    form.system.gemini.weekly = 7.25;
    form.sources.github.grantOnSignup = !beforeGrant;
    form.sources.github.overrides.kimi.daily = 4;
    expect((await saveQuotaDefaults(form, admin)).ok).toBe(true);
    const edit = await lastEntry(null);
    expect(edit.action).toBe("settings.quota_defaults.update");

    const res = await undoAuditEntry(edit.id, admin, deps());
    expect(res).toEqual({ ok: true, action: "settings.quota_defaults.update", changed: 3 });
    const now = await readQuotaDefaults();
    expect(now.system.gemini.weekly).toBe(beforeWeekly);
    expect(now.sources.github.grantOnSignup).toBe(beforeGrant);
    expect(now.sources.github.overrides.kimi.daily).toBe(null);
    const undo = await lastEntry(null);
    expect(undo.undo_of).toBe(edit.id);

    // Changed again since: refused, nothing written.
    const again = await defaultsForm();
    again.system.gemini.weekly = 8;
    expect((await saveQuotaDefaults(again, admin)).ok).toBe(true);
    const second = await lastEntry(null);
    again.version = (await readQuotaDefaults()).version;
    again.system.gemini.weekly = 9;
    expect((await saveQuotaDefaults(again, admin)).ok).toBe(true);
    const count = await auditCount();
    expect(await undoAuditEntry(second.id, admin, deps())).toEqual({ ok: false, code: "UNDO_CONFLICT" });
    expect((await readQuotaDefaults()).system.gemini.weekly).toBe(9);
    expect(await auditCount()).toBe(count);
  });

  it("refuses what it cannot undo: a usage reset, an unknown entry", async () => {
    await c.query(
      `INSERT INTO console_audit_logs (actor_id, actor_email, action, target_type, target_id, changes)
       VALUES ($1, $2, 'user.platform_quotas.reset', 'user', $3, '[{"key": "usage"}]')`,
      [admin.id, admin.email, String(users[1])],
    );
    const reset = await lastEntry(users[1]);
    expect(await undoAuditEntry(reset.id, admin, deps())).toEqual({ ok: false, code: "UNDO_UNSUPPORTED" });
    expect(await undoAuditEntry(2 ** 40, admin, deps())).toEqual({ ok: false, code: "NOT_FOUND" });
  });
});

describe("undo of a user's status or role change", () => {
  const statusOf = async (u: number) =>
    (await c.query("SELECT status, role FROM users WHERE id = $1", [u])).rows[0] as { status: string; role: string };

  it("re-enables a disabled user as a new audited change (undo_of); refused once the status changed again", async () => {
    const u = users[0];
    expect((await setUserStatus(u, "disabled", admin)).ok).toBe(true);
    const disabled = await lastEntry(u);
    expect(disabled.action).toBe("user.status.update");
    expect(await undoAuditEntry(disabled.id, admin, deps())).toEqual({
      ok: true,
      action: "user.status.update",
      changed: 1,
    });
    expect((await statusOf(u)).status).toBe("active");
    const undone = await lastEntry(u);
    expect(undone).toMatchObject({
      action: "user.status.update",
      undo_of: disabled.id,
      changes: [{ key: "status", before: "disabled", after: "active" }],
    });
    // The entry's "after" (disabled) no longer holds: a second undo is refused, nothing written.
    const before = await auditCount();
    expect(await undoAuditEntry(disabled.id, admin, deps())).toEqual({ ok: false, code: "UNDO_CONFLICT" });
    expect((await statusOf(u)).status).toBe("active");
    expect(await auditCount()).toBe(before);
  });

  it("demotes a promoted user back; a role changed outside the console since makes the undo conflict", async () => {
    const u = users[1];
    const promoted = await setUserRole(u, "admin", admin);
    expect(promoted.ok).toBe(true);
    const entry = await lastEntry(u);
    expect(await undoAuditEntry(entry.id, admin, deps())).toMatchObject({ ok: true, action: "user.role.update" });
    expect((await statusOf(u)).role).toBe("user");
    expect((await lastEntry(u)).undo_of).toBe(entry.id);
    // A change made by SQL outside the console makes the undo conflict, too.
    await c.query("UPDATE users SET role = 'admin' WHERE id = $1", [u]);
    const again = await setUserRole(u, "user", admin);
    expect(again.ok).toBe(true);
    const demote = await lastEntry(u);
    await c.query("UPDATE users SET role = 'admin' WHERE id = $1", [u]);
    expect(await undoAuditEntry(demote.id, admin, deps())).toEqual({ ok: false, code: "UNDO_CONFLICT" });
    await c.query("UPDATE users SET role = 'user' WHERE id = $1", [u]);
  });
});
