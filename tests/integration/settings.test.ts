import type { Client } from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";

import { AUTH_SOURCES } from "@/lib/auth-sources";
import { DEFAULT_PLATFORMS } from "@/lib/billing/platforms";
import { emptyQuotaMap, quotaDefaultsFormSchema, type QuotaDefaultsForm } from "@/lib/settings/quota-schema";
import { settingsHealth, signupDefaultsFallbacks } from "@/lib/settings/signup-plan";
import { readQuotaDefaults, saveQuotaDefaults } from "@/lib/settings/store";
import { signUpUser } from "@/lib/users/signup";

import { rawDb } from "../support/billing";

/** Quota defaults in the shared `settings` table and the sign-up snapshot, on real PostgreSQL. */
let c: Client;
const admin = { id: 1, email: "settings-admin@example.com" };

async function settingsSnapshot() {
  const s = await c.query("SELECT key, value FROM settings ORDER BY key");
  const a = await c.query("SELECT count(*)::int AS n FROM console_audit_logs WHERE target_type = 'settings'");
  return { settings: s.rows, audits: a.rows[0].n };
}

/** The e2e scenario's form: anthropic daily 10 / monthly 100; linuxdo on with openai monthly 0. */
async function scenarioForm(): Promise<QuotaDefaultsForm> {
  const current = await readQuotaDefaults();
  const system = emptyQuotaMap(DEFAULT_PLATFORMS);
  system.anthropic = { daily: 10, weekly: null, monthly: 100 };
  const linuxdo = emptyQuotaMap(DEFAULT_PLATFORMS);
  linuxdo.openai = { daily: null, weekly: null, monthly: 0 };
  const sources = Object.fromEntries(
    AUTH_SOURCES.map((s) => [s, { grantOnSignup: false, overrides: emptyQuotaMap(DEFAULT_PLATFORMS) }]),
  ) as QuotaDefaultsForm["sources"];
  sources.linuxdo = { grantOnSignup: true, overrides: linuxdo };
  return { version: current.version, system, sources };
}

beforeAll(async () => {
  c = await rawDb();
});
beforeEach(async () => {
  await c.query("DELETE FROM settings WHERE key LIKE 'default_platform_quotas' OR key LIKE 'auth_source_default_%'");
});
afterAll(async () => {
  await c.query("DELETE FROM settings WHERE key LIKE 'default_platform_quotas' OR key LIKE 'auth_source_default_%'");
  await c.query("DELETE FROM users WHERE email LIKE 'signup-%'");
  await c.end();
});

describe("reading", () => {
  it("a fresh install: every platform unlimited, 7 unconfigured sources, switches off", async () => {
    const d = await readQuotaDefaults();
    expect(d.system).toEqual(emptyQuotaMap(DEFAULT_PLATFORMS));
    expect(d.systemUnreadable).toBe(false);
    for (const s of AUTH_SOURCES)
      expect(d.sources[s]).toMatchObject({ grantOnSignup: false, configured: false, unreadable: false });
  });

  it("reads gateway-written values and flags an unreadable one instead of granting silently", async () => {
    await c.query(
      `INSERT INTO settings (key, value) VALUES
        ('default_platform_quotas', '{"anthropic":{"daily":10.5},"openai":{"monthly":0}}'),
        ('auth_source_default_github_platform_quotas', '{"openai":{"daily":"ten"}}'),
        ('auth_source_default_github_grant_on_signup', 'true')`,
    );
    const d = await readQuotaDefaults();
    expect(d.system.anthropic).toEqual({ daily: 10.5, weekly: null, monthly: null });
    expect(d.system.openai.monthly).toBe(0);
    expect(d.sources.github).toMatchObject({ grantOnSignup: true, configured: true, unreadable: true });
  });
});

describe("saving (whole replace)", () => {
  it("stores exactly the bytes the Go gateway writes for the same map, audited before → after", async () => {
    const r = await saveQuotaDefaults(await scenarioForm(), admin);
    expect(r.ok).toBe(true);
    const { rows } = await c.query(
      "SELECT key, value FROM settings WHERE key IN ('default_platform_quotas', 'auth_source_default_linuxdo_platform_quotas', 'auth_source_default_linuxdo_grant_on_signup', 'auth_source_default_email_grant_on_signup')",
    );
    const byKey = Object.fromEntries(rows.map((x) => [x.key, x.value]));
    const nil = '{"daily":null,"weekly":null,"monthly":null}';
    const sorted = [...DEFAULT_PLATFORMS].sort();
    expect(byKey.default_platform_quotas).toBe(
      `{${sorted.map((p) => `"${p}":${p === "anthropic" ? '{"daily":10,"weekly":null,"monthly":100}' : nil}`).join(",")}}`,
    );
    expect(byKey.auth_source_default_linuxdo_platform_quotas).toBe(
      `{${sorted.map((p) => `"${p}":${p === "openai" ? '{"daily":null,"weekly":null,"monthly":0}' : nil}`).join(",")}}`,
    );
    expect(byKey.auth_source_default_linuxdo_grant_on_signup).toBe("true");
    expect(byKey.auth_source_default_email_grant_on_signup).toBe("false");
    const audit = await c.query(
      "SELECT actor_email, action, changes FROM console_audit_logs WHERE target_type = 'settings' ORDER BY id DESC LIMIT 1",
    );
    expect(audit.rows[0]).toMatchObject({ actor_email: admin.email, action: "settings.quota_defaults.update" });
    expect(audit.rows[0].changes).toEqual(
      expect.arrayContaining([
        { key: "default_platform_quotas", platform: "anthropic", window: "daily", before: null, after: 10 },
        { key: "default_platform_quotas", platform: "anthropic", window: "monthly", before: null, after: 100 },
        {
          key: "auth_source_default_linuxdo_platform_quotas",
          platform: "openai",
          window: "monthly",
          before: null,
          after: 0,
        },
        { key: "auth_source_default_linuxdo_grant_on_signup", before: false, after: true },
      ]),
    );
    expect(audit.rows[0].changes).toHaveLength(4);
  });

  it("refuses a save made from an older version (no lost update between two admins)", async () => {
    const first = await scenarioForm();
    const second = await scenarioForm(); // both loaded the same version
    expect((await saveQuotaDefaults(first, admin)).ok).toBe(true);
    second.system.openai = { daily: 1, weekly: null, monthly: null };
    const before = await settingsSnapshot();
    expect(await saveQuotaDefaults(second, admin)).toEqual({ ok: false, code: "CONFLICT" });
    expect(await settingsSnapshot()).toEqual(before);
  });

  it("{} clears the system default to unlimited; saving again unchanged writes no audit row", async () => {
    await saveQuotaDefaults(await scenarioForm(), admin);
    const cleared = await scenarioForm();
    cleared.system = emptyQuotaMap(DEFAULT_PLATFORMS);
    const r = await saveQuotaDefaults(cleared, admin);
    expect(r.ok && r.data.system).toEqual(emptyQuotaMap(DEFAULT_PLATFORMS));
    const before = await settingsSnapshot();
    const again = await saveQuotaDefaults({ ...cleared, version: r.ok ? r.data.version : "" }, admin);
    expect(again).toMatchObject({ ok: true, changed: 0 });
    expect(await settingsSnapshot()).toEqual(before);
  });

  // Each bad input must be refused by the shared schema before anything is written.
  it.each([
    ["-1", { system: { openai: { daily: -1, weekly: null, monthly: null } } }, "system.openai.daily", "NEGATIVE"],
    [
      "abc",
      { system: { openai: { daily: "abc", weekly: null, monthly: null } } },
      "system.openai.daily",
      "NOT_A_NUMBER",
    ],
    ["1e12", { system: { openai: { daily: 1e12, weekly: null, monthly: null } } }, "system.openai.daily", "TOO_LARGE"],
    [
      "0.123456789012",
      { system: { gemini: { daily: null, weekly: 0.123456789012, monthly: null } } },
      "system.gemini.weekly",
      "TOO_MANY_DECIMALS",
    ],
    [
      "unknown platform",
      { system: { mistral: { daily: 1, weekly: null, monthly: null } } },
      "system.mistral",
      "UNKNOWN_PLATFORM",
    ],
    [
      "__proto__",
      { system: JSON.parse('{"__proto__":{"daily":1,"weekly":null,"monthly":null}}') },
      "system.__proto__",
      "UNKNOWN_PLATFORM",
    ],
  ])("bad input %s → %s, nothing changed", async (_name, patch, path, code) => {
    const form = { ...(await scenarioForm()), ...patch };
    const before = await settingsSnapshot();
    const parsed = quotaDefaultsFormSchema(DEFAULT_PLATFORMS).safeParse(form);
    expect(parsed.success).toBe(false);
    expect(parsed.error!.issues.map((i) => `${i.path.map(String).join(".")}:${i.message}`)).toContain(
      `${path}:${code}`,
    );
    expect(await settingsSnapshot()).toEqual(before);
  });
});

describe("sign-up snapshot", () => {
  it("email and linuxdo users get every registry platform; the source override only where its switch is on", async () => {
    await saveQuotaDefaults(await scenarioForm(), admin);
    const email = await signUpUser({ email: "signup-email@example.com", password: "password-1", source: "email" });
    const linuxdo = await signUpUser({
      email: "signup-1@linuxdo-connect.invalid",
      password: "password-1",
      source: "linuxdo",
    });
    const rows = async (id: number) =>
      (
        await c.query(
          `SELECT platform, daily_limit_usd::text AS d, weekly_limit_usd::text AS w, monthly_limit_usd::text AS m, daily_usage_usd::text AS u, daily_window_start
           FROM user_platform_quotas WHERE user_id = $1 AND deleted_at IS NULL ORDER BY platform`,
          [id],
        )
      ).rows;
    const e = await rows((email as { userId: number }).userId);
    const l = await rows((linuxdo as { userId: number }).userId);
    expect(e.map((r) => r.platform)).toEqual([...DEFAULT_PLATFORMS].sort());
    expect(l.map((r) => r.platform)).toEqual([...DEFAULT_PLATFORMS].sort());
    const dec = (v: number | null) => (v === null ? null : v.toFixed(10));
    const expectRow = (list: typeof e, platform: string, d: number | null, w: number | null, m: number | null) =>
      expect(list.find((r) => r.platform === platform)).toMatchObject({
        d: dec(d),
        w: dec(w),
        m: dec(m),
        u: "0.0000000000",
        daily_window_start: null,
      });
    expectRow(e, "anthropic", 10, null, 100);
    expectRow(e, "openai", null, null, null);
    expectRow(l, "anthropic", 10, null, 100);
    expectRow(l, "openai", null, null, 0);
    expectRow(l, "deepseek", null, null, null);
    const src = await c.query("SELECT signup_source FROM users WHERE id = $1", [
      (linuxdo as { userId: number }).userId,
    ]);
    expect(src.rows[0].signup_source).toBe("linuxdo");

    // Changing the defaults afterwards does not touch existing users.
    const changed = await scenarioForm();
    changed.system.anthropic = { daily: 1, weekly: 1, monthly: 1 };
    await saveQuotaDefaults(changed, admin);
    expectRow(await rows((email as { userId: number }).userId), "anthropic", 10, null, 100);
  });

  it("a garbled system map and a 1e12 source value: sign-up succeeds with 0 and the clamped value, never unlimited", async () => {
    // Written directly, as a hand edit or a gateway bug would: the console's save refuses both.
    await c.query(
      `INSERT INTO settings (key, value) VALUES
        ('default_platform_quotas', '{"anthropic":{"daily":10,'),
        ('auth_source_default_email_platform_quotas', '{"openai":{"daily":1e12,"monthly":0.12345678905},"grok":{"weekly":7}}'),
        ('auth_source_default_email_grant_on_signup', 'true'),
        ('auth_source_default_github_platform_quotas', '{"openai":{"daily":"ten"}}'),
        ('auth_source_default_github_grant_on_signup', 'true')`,
    );
    const d = await readQuotaDefaults();
    expect(settingsHealth(d)).toEqual([
      { kind: "unreadable", key: "default_platform_quotas", scope: "system" },
      {
        kind: "unreadable",
        key: "auth_source_default_github_platform_quotas",
        scope: "source",
        source: "github",
        used: true,
      },
      {
        kind: "clamped",
        reason: "too_large",
        key: "auth_source_default_email_platform_quotas",
        platform: "openai",
        window: "daily",
        stored: 1e12,
        applied: "9999999999.9999999999",
      },
      {
        kind: "clamped",
        reason: "too_many_decimals",
        key: "auth_source_default_email_platform_quotas",
        platform: "openai",
        window: "monthly",
        stored: 0.12345678905,
        applied: "0.1234567891",
      },
    ]);

    const counted = { ...signupDefaultsFallbacks };
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    let email, github, lines: string[];
    try {
      email = await signUpUser({ email: "signup-fallback@example.com", password: "password-1", source: "email" });
      github = await signUpUser({
        email: "signup-fallback-github@example.com",
        password: "password-1",
        source: "github",
      });
      lines = warn.mock.calls.map((call) => String(call[0]));
    } finally {
      warn.mockRestore();
    }
    expect(email).toMatchObject({ ok: true });
    expect(github).toMatchObject({ ok: true });
    // One line per sign-up, naming the keys it fell back on.
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      /default_platform_quotas is unreadable.*auth_source_default_email_platform_quotas openai\.daily = 1000000000000/,
    );
    expect(lines[1]).toContain("auth_source_default_github_platform_quotas is unreadable");
    expect(signupDefaultsFallbacks).toEqual({ unreadable: counted.unreadable + 2, clamped: counted.clamped + 1 });

    const rows = async (id: number) =>
      Object.fromEntries(
        (
          await c.query(
            `SELECT platform, daily_limit_usd::text AS d, weekly_limit_usd::text AS w, monthly_limit_usd::text AS m
             FROM user_platform_quotas WHERE user_id = $1 AND deleted_at IS NULL`,
            [id],
          )
        ).rows.map((r) => [r.platform, { d: r.d, w: r.w, m: r.m }]),
      );
    const zero = "0.0000000000";
    const e = await rows((email as { userId: number }).userId);
    expect(Object.keys(e).sort()).toEqual([...DEFAULT_PLATFORMS].sort());
    expect(e.openai).toEqual({ d: "9999999999.9999999999", w: zero, m: "0.1234567891" });
    expect(e.grok).toEqual({ d: zero, w: "7.0000000000", m: zero });
    for (const p of DEFAULT_PLATFORMS.filter((x) => x !== "openai" && x !== "grok"))
      expect(e[p], p).toEqual({ d: zero, w: zero, m: zero });
    const g = await rows((github as { userId: number }).userId);
    expect(Object.keys(g).sort()).toEqual([...DEFAULT_PLATFORMS].sort());
    for (const p of DEFAULT_PLATFORMS) expect(g[p], p).toEqual({ d: zero, w: zero, m: zero });
  });

  it("a taken e-mail (any case) is EMAIL_TAKEN and creates nothing", async () => {
    await signUpUser({ email: "signup-dup@example.com", password: "password-1", source: "email" });
    const before = await c.query("SELECT count(*)::int AS n FROM users");
    expect(await signUpUser({ email: "SIGNUP-DUP@example.com", password: "password-2", source: "email" })).toEqual({
      ok: false,
      code: "EMAIL_TAKEN",
    });
    expect((await c.query("SELECT count(*)::int AS n FROM users")).rows[0].n).toBe(before.rows[0].n);
  });
});
