import type pg from "pg";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

import { DEFAULT_PLATFORMS } from "@/lib/billing/platforms";
import { DEMO_ADMIN } from "@/lib/seed/demo";

import { builtAction, callAction } from "../support/actions";
import { launchChromium, screenshot, signIn } from "../support/browser";
import { rawDb } from "../support/db";
import { ATTACHED } from "../support/gateway-fixture";
import { sessionCookieFor } from "../support/session";

/**
 * Admin settings → quota defaults, in Chromium against the production build: the scenario of
 * issue 4, bad input in both languages, and what reaches the action without the browser.
 */
const base = inject("baseURL");
let browser: Browser;
let c: pg.Client;

async function settingsSnapshot() {
  const s = await c.query(
    "SELECT key, value FROM settings WHERE key = 'default_platform_quotas' OR key LIKE 'auth_source_default_%' ORDER BY key",
  );
  const a = await c.query("SELECT count(*)::int AS n FROM console_audit_logs WHERE target_type = 'settings'");
  return { settings: s.rows, audits: a.rows[0].n };
}

async function adminPage(locale: "en-US" | "zh-CN"): Promise<{ ctx: BrowserContext; page: Page }> {
  const ctx = await browser.newContext({ locale });
  const page = await ctx.newPage();
  const l = locale === "zh-CN" ? "zh" : "en";
  await page.goto(`${base}/${l}/sign-in`);
  await signIn(page, DEMO_ADMIN.email, DEMO_ADMIN.password);
  await page.waitForURL(`${base}/${l}/dashboard`);
  await page.goto(`${base}/${l}/admin/settings`);
  return { ctx, page };
}

const cell = (page: Page, path: string) => page.locator(`[data-cell="${path}"]`);

beforeAll(async () => {
  browser = await launchChromium();
  c = await rawDb();
  await c.query("DELETE FROM settings WHERE key = 'default_platform_quotas' OR key LIKE 'auth_source_default_%'");
});
afterAll(async () => {
  await browser?.close();
  await c.query("DELETE FROM users WHERE email = 'e2e-register@example.com'");
  await c.end();
});

describe("quota defaults", () => {
  it("admin sets system anthropic 10/100 and linuxdo openai monthly 0; reload keeps them; preview explains origins", async () => {
    const { ctx, page } = await adminPage("en-US");
    await cell(page, "system.anthropic.daily").fill("10");
    await cell(page, "system.anthropic.monthly").fill("100");
    const linuxdo = page.locator('details[data-source="linuxdo"]');
    await linuxdo.locator("summary").click();
    await linuxdo.getByRole("switch").check();
    await cell(page, "sources.linuxdo.overrides.openai.monthly").fill("0");
    expect(await cell(page, "sources.linuxdo.overrides.anthropic.daily").getAttribute("placeholder")).toBe(
      "inherits: $10",
    );
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await expect.poll(() => page.getByTestId("toast").textContent()).toBe("Quota defaults saved.");
    await expect
      .poll(() => page.getByTestId("last-change").textContent())
      .toMatch(/^Last changed by admin@example\.com on /);

    await page.reload();
    expect(await cell(page, "system.anthropic.daily").inputValue()).toBe("10");
    expect(await cell(page, "system.anthropic.monthly").inputValue()).toBe("100");
    expect(await cell(page, "system.anthropic.weekly").inputValue()).toBe("");
    expect(await page.locator('details[data-source="linuxdo"]').getByRole("switch").isChecked()).toBe(true);
    expect(await cell(page, "sources.linuxdo.overrides.openai.monthly").inputValue()).toBe("0");

    const preview = page.locator('table[data-preview="linuxdo"]');
    const at = (p: string, w: string) => preview.locator(`tr[data-platform="${p}"] td[data-window="${w}"]`);
    expect(await at("openai", "monthly").getAttribute("data-origin")).toBe("source");
    expect(await at("openai", "monthly").textContent()).toContain("Disabled");
    expect(await at("anthropic", "daily").getAttribute("data-origin")).toBe("system");
    expect(await at("anthropic", "daily").textContent()).toContain("$10");
    expect(await at("anthropic", "monthly").textContent()).toContain("$100");
    await screenshot(page, "admin-settings-quota-defaults-en");

    // What was stored is what the gateway writes for this map.
    const { rows } = await c.query("SELECT value FROM settings WHERE key = 'default_platform_quotas'");
    const nil = '{"daily":null,"weekly":null,"monthly":null}';
    expect(rows[0].value).toBe(
      `{${[...DEFAULT_PLATFORMS]
        .sort()
        .map((p) => `"${p}":${p === "anthropic" ? '{"daily":10,"weekly":null,"monthly":100}' : nil}`)
        .join(",")}}`,
    );
    await ctx.close();
  });

  // Through the console's register page, which attached mode delegates to the gateway (the
  // snapshot itself is tested in both layouts by tests/integration/registration.test.ts).
  it.skipIf(ATTACHED)(
    "a new e-mail sign-up gets the snapshot of the defaults (all platforms, anthropic 10/–/100)",
    async () => {
      // Registration is off by default: the admin's switch (the e2e server sets REGISTRATION_ENABLED).
      await c.query(
        "INSERT INTO settings (key, value) VALUES ('quota_console_registration_enabled', 'true') ON CONFLICT (key) DO UPDATE SET value = 'true'",
      );
      const ctx = await browser.newContext({ locale: "en-US" });
      const page = await ctx.newPage();
      await page.goto(`${base}/en/sign-in`);
      await page.getByRole("link", { name: "Create one" }).click();
      await page.waitForURL(`${base}/en/register`);
      await page.locator('input[name="email"]').fill("e2e-register@example.com");
      await page.locator('input[name="password"]').fill("short");
      await page.locator('form button[type="submit"]').click();
      await expect.poll(() => page.locator("#password-hint").textContent()).toBe("Use at least 8 characters.");
      await page.locator('input[name="password"]').fill("long-enough-password");
      await page.locator('form button[type="submit"]').click();
      await page.waitForURL(`${base}/en/dashboard`);
      const { rows } = await c.query(
        `SELECT q.platform, q.daily_limit_usd::text AS d, q.weekly_limit_usd AS w, q.monthly_limit_usd::text AS m, u.signup_source
       FROM user_platform_quotas q JOIN users u ON u.id = q.user_id WHERE u.email = 'e2e-register@example.com' AND q.deleted_at IS NULL`,
      );
      expect(rows.map((r) => r.platform).sort()).toEqual([...DEFAULT_PLATFORMS].sort());
      expect(rows.find((r) => r.platform === "anthropic")).toMatchObject({
        d: "10.0000000000",
        w: null,
        m: "100.0000000000",
        signup_source: "email",
      });
      await ctx.close();
      await c.query("DELETE FROM settings WHERE key = 'quota_console_registration_enabled'");
    },
  );

  it.each([
    [
      "en-US",
      {
        "-1": "Must be 0 or more.",
        abc: "Enter a number, e.g. 10 or 0.5.",
        "1e12": "Enter a number, e.g. 10 or 0.5.",
        "0.123456789012": "At most 10 decimal places.",
        "10000000000": "Must be less than 10,000,000,000.",
      },
      "Save",
      "Some cells are invalid. Fix the highlighted cells and save again.",
    ],
    [
      "zh-CN",
      {
        "-1": "不能小于 0。",
        abc: "请输入数字，例如 10 或 0.5。",
        "1e12": "请输入数字，例如 10 或 0.5。",
        "0.123456789012": "最多 10 位小数。",
        "10000000000": "必须小于 10,000,000,000。",
      },
      "保存",
      "部分单元格填写有误，请修正标红的单元格后再保存。",
    ],
  ] as const)(
    "%s: bad cells show a localized error on that cell and nothing is saved",
    async (locale, cases, save, formError) => {
      const { ctx, page } = await adminPage(locale);
      const before = await settingsSnapshot();
      for (const [text, message] of Object.entries(cases)) {
        const input = cell(page, "system.gemini.weekly");
        await input.fill(text);
        expect(await input.getAttribute("aria-invalid")).toBe("true");
        const describedBy = await input.getAttribute("aria-describedby");
        expect(await page.locator(`[id="${describedBy}"]`).textContent()).toBe(message);
      }
      await page.getByRole("button", { name: save, exact: true }).click();
      await expect.poll(() => page.getByTestId("form-error").textContent()).toContain(formError);
      expect(await page.evaluate(() => document.activeElement?.getAttribute("data-cell"))).toBe("system.gemini.weekly");
      await page.waitForTimeout(300);
      expect(await settingsSnapshot()).toEqual(before);
      await ctx.close();
    },
  );
});

describe("the save action without the browser", () => {
  it("refuses an unknown platform, a __proto__ key, a 1 MB body, a stale version and a user's session; nothing changes", async () => {
    const cookie = await sessionCookieFor(DEMO_ADMIN.email);
    const action = builtAction("saveQuotaDefaultsAction");
    const before = await settingsSnapshot();
    const sources = Object.fromEntries(
      ["email", "linuxdo", "oidc", "wechat", "github", "google", "dingtalk"].map((s) => [
        s,
        { grantOnSignup: false, overrides: {} },
      ]),
    );
    const unknown = await callAction(
      base,
      action,
      [{ version: "x", system: { mistral: { daily: 1, weekly: null, monthly: null } }, sources }],
      cookie,
    );
    expect(unknown.body).toContain('"code":"INVALID_INPUT"');
    expect(unknown.body).toContain('"system.mistral":["UNKNOWN_PLATFORM"]');
    const proto = await callAction(
      base,
      action,
      `[{"version":"x","system":{"__proto__":{"daily":1,"weekly":null,"monthly":null}},"sources":${JSON.stringify(sources)}}]`,
      cookie,
    );
    // React's reply decoder does not let a "__proto__" key through at all; either way nothing is saved.
    expect(proto.body).not.toContain('"ok":true');
    const big = await callAction(base, action, [{ version: "x".repeat(1024 * 1024), system: {}, sources }], cookie);
    expect(big.body).not.toContain('"ok":true');
    expect([200, 413, 500]).toContain(big.status);
    const stale = await callAction(base, action, [{ version: "stale", system: {}, sources }], cookie);
    expect(stale.body).toBe('{"ok":false,"code":"CONFLICT"}');
    expect(await settingsSnapshot()).toEqual(before);
    const userCookie = await sessionCookieFor("alice@example.com");
    const denied = await callAction(base, action, [{ version: "x", system: {}, sources }], userCookie);
    expect(denied.body).toContain('"code":"FORBIDDEN"');
  });
});

describe("stored defaults new users cannot get as stored", () => {
  it.each([
    [
      "en-US",
      [
        "The stored value of default_platform_quotas cannot be read. New users get every platform disabled until this is saved again",
        "auth_source_default_email_platform_quotas: the stored OpenAI daily limit 1000000000000 is too large for a quota row. New users get $9,999,999,999.9999999999 until this is saved again.",
      ],
      { disabled: "Disabled", unreadable: "setting unreadable", clamped: "clamped from 1000000000000" },
    ],
    [
      "zh-CN",
      [
        "设置项 default_platform_quotas 的已存值无法解析。重新保存之前，新用户的所有平台均为已禁用",
        "设置项 auth_source_default_email_platform_quotas：已存的 OpenAI 日限额 1000000000000 超出配额记录可保存的最大值。重新保存之前，新用户获得的限额为 $9,999,999,999.9999999999。",
      ],
      { disabled: "已禁用", unreadable: "设置无法解析", clamped: "由 1000000000000 截断" },
    ],
  ] as const)(
    "%s: an alert names the key and what new users get; the preview marks those cells",
    async (locale, alert, cellText) => {
      const saved = await c.query(
        "SELECT key, value FROM settings WHERE key = 'default_platform_quotas' OR key LIKE 'auth_source_default_%'",
      );
      await c.query("DELETE FROM settings WHERE key = 'default_platform_quotas' OR key LIKE 'auth_source_default_%'");
      await c.query(
        `INSERT INTO settings (key, value) VALUES ('default_platform_quotas', '{"anthropic":'),
        ('auth_source_default_email_platform_quotas', '{"openai":{"daily":1e12}}'), ('auth_source_default_email_grant_on_signup', 'true')`,
      );
      try {
        const { ctx, page } = await adminPage(locale);
        const box = page.getByTestId("settings-health");
        expect(await box.getAttribute("role")).toBe("alert");
        const text = (await box.textContent()) ?? "";
        for (const a of alert) expect(text).toContain(a);
        const preview = page.locator('table[data-preview="email"]');
        const at = (p: string, w: string) => preview.locator(`tr[data-platform="${p}"] td[data-window="${w}"]`);
        expect(await at("openai", "daily").getAttribute("data-fallback")).toBe("too_large");
        expect(await at("openai", "daily").textContent()).toContain("$9,999,999,999.9999999999");
        expect(await at("openai", "daily").textContent()).toContain(cellText.clamped);
        expect(await at("anthropic", "daily").getAttribute("data-fallback")).toBe("unreadable");
        expect(await at("anthropic", "daily").textContent()).toContain(cellText.disabled);
        expect(await at("anthropic", "daily").textContent()).toContain(cellText.unreadable);
        await screenshot(page, `admin-settings-health-${locale === "zh-CN" ? "zh" : "en"}`);
        await ctx.close();
      } finally {
        await c.query("DELETE FROM settings WHERE key = 'default_platform_quotas' OR key LIKE 'auth_source_default_%'");
        for (const r of saved.rows)
          await c.query("INSERT INTO settings (key, value) VALUES ($1, $2)", [r.key, r.value]);
      }
    },
  );
});
