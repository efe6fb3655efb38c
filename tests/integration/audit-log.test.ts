import type { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { describeChanges } from "@/lib/audit/diff";
import { AUDIT_PAGE_SIZE, AuditListParamsSchema, listAuditActors, listAuditEntries } from "@/lib/audit/log";
import { AUTH_SOURCES } from "@/lib/auth-sources";
import { DEFAULT_PLATFORMS } from "@/lib/billing/platforms";
import { getUserQuotasView, saveUserQuotas } from "@/lib/quota/admin";
import { readQuotaVersion } from "@/lib/quota/version";
import { emptyQuotaMap, type QuotaDefaultsForm } from "@/lib/settings/quota-schema";
import { readQuotaDefaults, saveQuotaDefaults } from "@/lib/settings/store";
import { signUpUser } from "@/lib/users/signup";
import { setUserStatus } from "@/lib/users/users";

import { createUsers, deleteUsers, rawDb } from "../support/billing";

/**
 * The audit page's reads on real PostgreSQL: entries written by the real writers (settings save,
 * per-user save, status change) come back with their diffs, each filter selects exactly its rows, and
 * every query shape the page can issue is index-backed on a 100k-row trail.
 */
let c: Client;
let users: number[] = [];
const run = Math.floor(Math.random() * 1e9);
const adminA = { id: 0, email: `audit-a-${run}@audit.test` };
const adminB = { id: 0, email: `audit-b-${run}@audit.test` };
const P = (o: Record<string, string>) => AuditListParamsSchema.parse(o);

async function defaultsForm(): Promise<QuotaDefaultsForm> {
  const current = await readQuotaDefaults();
  const sources = Object.fromEntries(
    AUTH_SOURCES.map((s) => [
      s,
      { grantOnSignup: current.sources[s].grantOnSignup, overrides: current.sources[s].overrides },
    ]),
  ) as QuotaDefaultsForm["sources"];
  return { version: current.version, system: structuredClone(current.system), sources };
}

beforeAll(async () => {
  c = await rawDb();
  const { rows } = await c.query(
    "INSERT INTO users (email, password_hash, role) VALUES ($1, 'x', 'admin'), ($2, 'x', 'admin') RETURNING id",
    [adminA.email, adminB.email],
  );
  adminA.id = Number(rows[0].id);
  adminB.id = Number(rows[1].id);
  users = await createUsers(c, `audit-${run}`, 2);
});
afterAll(async () => {
  await c.query("DELETE FROM console_audit_logs WHERE actor_email = ANY($1::text[])", [[adminA.email, adminB.email]]);
  await c.query("DELETE FROM settings WHERE key = 'default_platform_quotas' OR key LIKE 'auth_source_default_%'");
  await deleteUsers(c, [...users, adminA.id, adminB.id]);
  await c.end();
});

describe("audit log reads", () => {
  it("shows each real write with its before → after, newest first, filterable by actor, user, kind and day", async () => {
    const form = await defaultsForm();
    const beforeDaily = form.system.anthropic.daily;
    form.system.anthropic = { ...form.system.anthropic, daily: 12.5 };
    form.sources.github = {
      grantOnSignup: !form.sources.github.grantOnSignup,
      overrides: emptyQuotaMap(DEFAULT_PLATFORMS),
    };
    expect((await saveQuotaDefaults(form, adminA)).ok).toBe(true);

    const [u1, u2] = users;
    const saved = await saveUserQuotas(
      u1,
      [{ platform: "openai", limits: { daily: 3, weekly: null, monthly: 0 } }],
      adminB,
      await readQuotaVersion(c, u1),
    );
    expect(saved.ok).toBe(true);
    expect((await setUserStatus(u2, "disabled", adminB)).ok).toBe(true);

    const mine = await listAuditEntries(P({ actor: adminB.email }), "UTC");
    expect(mine.entries.map((e) => e.action)).toEqual(["user.status.update", "user.platform_quotas.update"]);
    expect(mine.entries[0].targetEmail).toMatch(/@billing\.test$/);

    const [quota] = (await listAuditEntries(P({ user: String(u1) }), "UTC")).entries;
    expect(quota.kind).toBe("user_quotas");
    expect(describeChanges(quota.action, quota.changes)).toEqual([
      {
        kind: "matrix",
        scope: { of: "user" },
        rows: [
          {
            platform: "openai",
            cells: {
              daily: { before: "absent", after: 3 },
              weekly: { before: "absent", after: null },
              monthly: { before: "absent", after: 0 },
            },
          },
        ],
      },
    ]);
    // The same entry by the user's e-mail, in another case and with spaces (the gateway's comparison).
    const email = (await c.query("SELECT email FROM users WHERE id = $1", [u1])).rows[0].email as string;
    const byEmail = await listAuditEntries(P({ user: `  ${email.toUpperCase()} ` }), "UTC");
    expect(byEmail.entries.map((e) => e.id)).toEqual([quota.id]);
    // An unknown e-mail matches nothing (never everything).
    expect((await listAuditEntries(P({ user: `nobody-${run}@audit.test` }), "UTC")).entries).toEqual([]);

    const [settings] = (await listAuditEntries(P({ actor: adminA.email, kind: "quota_defaults" }), "UTC")).entries;
    const sections = describeChanges(settings.action, settings.changes);
    expect(sections).toContainEqual({
      kind: "matrix",
      scope: { of: "system" },
      rows: [{ platform: "anthropic", cells: { daily: { before: beforeDaily, after: 12.5 } } }],
    });
    expect(sections).toContainEqual({
      kind: "grant",
      source: "github",
      before: !form.sources.github.grantOnSignup,
      after: form.sources.github.grantOnSignup,
    });
    expect((await listAuditEntries(P({ actor: adminA.email, kind: "user_status" }), "UTC")).entries).toEqual([]);

    expect(await listAuditActors()).toEqual(expect.arrayContaining([adminA.email, adminB.email]));
  });

  it("why this limit: a console edit names its entry; a sign-up value traces to the defaults as they were then", async () => {
    const [u1] = users;
    const view = (await getUserQuotasView(u1))!;
    const [edit] = (await listAuditEntries(P({ user: String(u1), kind: "user_quotas" }), "UTC")).entries;
    expect(view.origins.openai).toEqual({
      daily: { kind: "edit", auditId: edit.id, actorEmail: adminB.email, at: edit.at },
      weekly: { kind: "edit", auditId: edit.id, actorEmail: adminB.email, at: edit.at },
      monthly: { kind: "edit", auditId: edit.id, actorEmail: adminB.email, at: edit.at },
    });

    // A sign-up under today's defaults (system anthropic daily 12.5 from the first test) …
    const signed = await signUpUser({
      email: `audit-signup-${run}@audit.test`,
      password: "password-1",
      source: "email",
    });
    expect(signed.ok).toBe(true);
    const id = Number(
      (await c.query("SELECT id FROM users WHERE email = $1", [`audit-signup-${run}@audit.test`])).rows[0].id,
    );
    users.push(id);
    // … then the default moves on (12.5 → 20): the user's 12.5 still comes from the sign-up defaults.
    const form = await defaultsForm();
    form.system.anthropic = { ...form.system.anthropic, daily: 20 };
    expect((await saveQuotaDefaults(form, adminA)).ok).toBe(true);
    const origins = (await getUserQuotasView(id))!.origins;
    expect(origins.anthropic.daily).toMatchObject({ kind: "signup", from: "system", source: null });
    // A value changed behind the console's back (the gateway's admin, SQL) is said to be.
    await c.query(
      "UPDATE user_platform_quotas SET daily_limit_usd = 99 WHERE user_id = $1 AND platform = 'anthropic'",
      [id],
    );
    expect((await getUserQuotasView(id))!.origins.anthropic.daily).toEqual({ kind: "outside", since: null });
  });

  it("reads the date range as whole days in the viewer's time zone", async () => {
    const at = (iso: string) =>
      c.query(
        `INSERT INTO console_audit_logs (actor_id, actor_email, action, target_type, target_id, changes, created_at)
         VALUES ($1, $2, 'user.status.update', 'user', $3, '[]', $4)`,
        [adminA.id, adminA.email, String(users[1]), iso],
      );
    // 2026-03-01 in Asia/Shanghai (UTC+8) runs from 2026-02-28T16:00Z to 2026-03-01T16:00Z.
    await at("2026-02-28T15:59:59.999Z"); // 2026-02-28 23:59:59.999 local: outside
    await at("2026-02-28T16:00:00.000Z"); // 2026-03-01 00:00 local: inside
    await at("2026-03-01T15:59:59.999Z"); // 2026-03-01 23:59:59.999 local: inside
    await at("2026-03-01T16:00:00.000Z"); // 2026-03-02 00:00 local: outside
    const day = P({ actor: adminA.email, from: "2026-03-01", to: "2026-03-01" });
    const shanghai = await listAuditEntries(day, "Asia/Shanghai");
    expect(shanghai.entries.map((e) => e.at)).toEqual(["2026-03-01T15:59:59.999Z", "2026-02-28T16:00:00.000Z"]);
    const utc = await listAuditEntries(day, "UTC");
    expect(utc.entries.map((e) => e.at)).toEqual(["2026-03-01T16:00:00.000Z", "2026-03-01T15:59:59.999Z"]);
    // Bad dates are ignored, not an error (the URL is user input).
    expect(P({ from: "2026-02-30", to: "yesterday" })).toMatchObject({ from: "", to: "" });
  });

  it("pages by 50 and says whether an older page follows", async () => {
    await c.query(
      `INSERT INTO console_audit_logs (actor_id, actor_email, action, target_type, target_id, changes, created_at)
       SELECT $1, $2, 'user.role.update', 'user', $3, '[]', now() - g * interval '1 second' FROM generate_series(1, $4) g`,
      [adminB.id, adminB.email, String(users[0]), AUDIT_PAGE_SIZE + 1],
    );
    const p1 = await listAuditEntries(P({ actor: adminB.email, kind: "user_role" }), "UTC");
    const p2 = await listAuditEntries(P({ actor: adminB.email, kind: "user_role", page: "2" }), "UTC");
    expect([p1.entries.length, p1.hasMore, p2.entries.length, p2.hasMore]).toEqual([AUDIT_PAGE_SIZE, true, 1, false]);
    expect(new Set([...p1.entries, ...p2.entries].map((e) => e.id)).size).toBe(AUDIT_PAGE_SIZE + 1);
  });

  it("every query shape is index-backed on a 100k-row trail (EXPLAIN)", async () => {
    await c.query(
      `INSERT INTO console_audit_logs (actor_id, actor_email, action, target_type, target_id, changes, created_at)
       SELECT $1, CASE WHEN g % 50 = 0 THEN $2 ELSE 'audit-bulk-' || (g % 20) || '-' || $3 || '@audit.test' END,
              (ARRAY['user.platform_quotas.update','user.status.update','settings.quota_defaults.update','cache.repair'])[1 + g % 4],
              'user', (900000000 + g % 5000)::text, '[]', now() - g * interval '1 minute'
       FROM generate_series(1, 100000) g`,
      [adminA.id, adminA.email, run],
    );
    await c.query("ANALYZE console_audit_logs");
    const shapes: Record<string, Record<string, string>> = {
      none: {},
      actor: { actor: adminA.email },
      kind: { kind: "user_status" },
      user: { user: "900000007" },
      range: { from: "2026-01-01", to: "2026-01-02" },
      "actor+kind+range": { actor: adminA.email, kind: "quota_defaults", from: "2026-01-01" },
    };
    try {
      for (const [name, filters] of Object.entries(shapes)) {
        const plans: string[] = [];
        const explain = {
          query: async (sql: string, params: unknown[]) => {
            if (!sql.includes("FROM console_audit_logs a")) return c.query(sql, params);
            const r = await c.query(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`, params);
            plans.push(r.rows.map((x) => x["QUERY PLAN"]).join("\n"));
            return { rows: [] };
          },
        } as unknown as Parameters<typeof listAuditEntries>[2];
        await listAuditEntries(P(filters), "UTC", explain);
        expect(plans, name).toHaveLength(1);
        console.log(`[audit-log] EXPLAIN ${name}:\n${plans[0]}`);
        expect(plans[0], name).not.toMatch(/Seq Scan on console_audit_logs/);
      }
    } finally {
      await c.query("DELETE FROM console_audit_logs WHERE actor_email LIKE $1", [`audit-bulk-%-${run}@audit.test`]);
    }
  });
});
