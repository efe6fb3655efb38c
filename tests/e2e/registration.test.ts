import Redis from "ioredis";
import type pg from "pg";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";

import { DEMO_ADMIN } from "@/lib/seed/demo";

import { builtAction, callAction, callFormAction } from "../support/actions";
import { launchChromium, screenshot, signIn } from "../support/browser";
import { rawDb } from "../support/db";
import { E2E_METRICS_TOKEN, startNextServer } from "../support/e2e-global-setup";
import { ATTACHED } from "../support/gateway-fixture";
import { sessionCookieFor } from "../support/session";
import { testEnv } from "../support/test-env";

/**
 * Registration at the HTTP boundary of the production build (issue 10 #4 and part of #7). The
 * suite's server runs with REGISTRATION_ENABLED=true, so the admin's switch decides; a second
 * server with the variable unset shows the operator's hard switch. On the old main registration
 * was always open, answered EMAIL_TAKEN, let eight concurrent case variants create eight accounts,
 * accepted `12345678`, and answered 500 to a non-form argument.
 */
const base = inject("baseURL");
const KEY = "quota_console_registration_enabled";
const STRONG = "long-enough-password";
let browser: Browser;
let c: pg.Client;
let r: Redis;

const setSwitch = async (value: string | null) => {
  await c.query("DELETE FROM settings WHERE key = $1", [KEY]);
  if (value !== null) await c.query("INSERT INTO settings (key, value) VALUES ($1, $2)", [KEY, value]);
};
const userCount = async () => (await c.query("SELECT count(*)::int AS n FROM users")).rows[0].n as number;
const accountsOf = async (address: string) =>
  (await c.query("SELECT count(*)::int AS n FROM users WHERE lower(trim(email)) = lower(trim($1))", [address])).rows[0]
    .n as number;
const html = async (path: string, b = base) => (await fetch(`${b}${path}`)).text();
const register = (fields: Record<string, string>, b = base) =>
  callFormAction(b, builtAction("registerAction"), { locale: "en", ...fields });

async function fillRegister(page: Page, email: string, password: string) {
  await page.locator('input[name="email"]').fill(email);
  await page.locator('input[name="password"]').fill(password);
  await page.locator('form button[type="submit"]').click();
}

beforeAll(async () => {
  browser = await launchChromium();
  c = await rawDb();
  r = new Redis(testEnv().redisUrl);
});
// Every test starts with the per-client registration limit unused (all requests come from 127.0.0.1).
beforeEach(async () => {
  const keys = await r.keys("qc:register:*");
  if (keys.length) await r.del(...keys);
});
afterAll(async () => {
  await setSwitch(null);
  await c.query("DELETE FROM console_audit_logs WHERE target_type = 'settings' AND target_id = 'registration'");
  await c.query("DELETE FROM users WHERE lower(trim(email)) LIKE 'e2e-reg-%'");
  await browser?.close();
  await r.quit();
  await c.end();
});

// Attached to the gateway's database, sign-up is the gateway's (lib/settings/registration.ts): the
// console's switches open nothing, the page points to the gateway, the action creates nothing.
describe.runIf(ATTACHED)("attached: sign-up delegated to the gateway", () => {
  it("the register page points to the gateway (en, zh) with both console switches on; the action refuses; nothing is written", async () => {
    await setSwitch("true"); // and the suite's server runs with REGISTRATION_ENABLED=true
    try {
      const en = await html("/en/register");
      expect(en).toContain('data-testid="registration-delegated"');
      expect(en).toContain("Sign up on the gateway");
      expect(en).not.toContain('name="password"');
      expect(await html("/zh/register")).toContain("请在网关注册");
      expect(await html("/en/sign-in")).toContain('data-testid="oauth-hint"');
      const before = await userCount();
      const res = await register({ email: "e2e-reg-attached@example.com", password: STRONG });
      expect(JSON.parse(res.body)).toEqual({ code: "REGISTRATION_CLOSED" });
      expect(await userCount()).toBe(before);
      const saved = await callAction(
        base,
        builtAction("saveRegistrationSettingAction"),
        [{ enabled: false, version: "any" }],
        await sessionCookieFor(DEMO_ADMIN.email),
      );
      expect(saved.body).toBe('{"ok":false,"code":"REGISTRATION_DELEGATED"}');
      expect((await c.query("SELECT value FROM settings WHERE key = $1", [KEY])).rows).toEqual([{ value: "true" }]);
    } finally {
      await setSwitch(null);
    }
  });
});

describe.skipIf(ATTACHED)("registration is off by default", () => {
  it("admin's switch unset: the register page is closed (en, zh), sign-in shows no register link, the action refuses and writes nothing", async () => {
    await setSwitch(null);
    expect(await html("/en/register")).toContain("Registration is closed");
    expect(await html("/zh/register")).toContain("注册已关闭");
    expect(await html("/en/register")).not.toContain('name="password"');
    const signInPage = await html("/en/sign-in");
    expect(signInPage).toContain('name="password"'); // positive control: the sign-in form is there
    expect(signInPage).not.toContain('href="/en/register"');
    const before = await userCount();
    const res = await register({ email: "e2e-reg-closed@example.com", password: STRONG });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ code: "REGISTRATION_CLOSED" });
    expect(await userCount()).toBe(before);
  });

  it("REGISTRATION_ENABLED unset (the operator's default): closed even with the admin's switch on", async () => {
    await setSwitch("true");
    const env: NodeJS.ProcessEnv = { ...process.env, QC_REPAIRER: "off" };
    for (const k of ["REGISTRATION_ENABLED", "METRICS_TOKEN", "ADMIN_EMAIL", "ADMIN_PASSWORD"]) delete env[k];
    const server = await startNextServer(env, { capture: true });
    try {
      expect(await html("/en/register", server.baseURL)).toContain("Registration is closed");
      expect(await html("/en/sign-in", server.baseURL)).not.toContain('href="/en/register"');
      const before = await userCount();
      const res = await register({ email: "e2e-reg-envoff@example.com", password: STRONG }, server.baseURL);
      expect(JSON.parse(res.body)).toEqual({ code: "REGISTRATION_CLOSED" });
      expect(await userCount()).toBe(before);
      // Positive control on the suite's server (REGISTRATION_ENABLED=true): the same switch opens it.
      expect(await html("/en/register")).toContain('name="password"');
    } finally {
      await server.stop();
      await setSwitch(null);
    }
  });
});

describe.skipIf(ATTACHED)("the admin's switch on Admin → Settings", () => {
  it("an admin opens registration in the browser; sign-in then links to a working register page", async () => {
    await setSwitch(null);
    const ctx = await browser.newContext({ locale: "en-US" });
    const page = await ctx.newPage();
    await page.goto(`${base}/en/sign-in`);
    await signIn(page, DEMO_ADMIN.email, DEMO_ADMIN.password);
    await page.waitForURL(`${base}/en/dashboard`);
    await page.goto(`${base}/en/admin/settings`);
    const box = page.getByTestId("registration-settings");
    expect(await box.getByTestId("registration-env").textContent()).toBe("On");
    expect(await box.getByTestId("registration-effective").textContent()).toBe("Registration is closed.");
    await box.getByRole("switch").check();
    await box.getByRole("button", { name: "Save registration" }).click();
    await expect
      .poll(() => box.getByTestId("registration-message").textContent())
      .toContain("Registration setting saved.");
    expect(await box.getByTestId("registration-effective").textContent()).toBe("Registration is open.");
    await screenshot(page, "admin-settings-registration-en");
    expect((await c.query("SELECT value FROM settings WHERE key = $1", [KEY])).rows).toEqual([{ value: "true" }]);
    expect(
      (await c.query("SELECT count(*)::int AS n FROM settings WHERE key = 'registration_enabled'")).rows[0].n,
    ).toBe(0);
    await ctx.close();

    const anon = await browser.newContext({ locale: "en-US" });
    const p2 = await anon.newPage();
    await p2.goto(`${base}/en/sign-in`);
    await p2.getByRole("link", { name: "Create one" }).click();
    await p2.waitForURL(`${base}/en/register`);
    expect(await p2.locator('input[name="password"]').count()).toBe(1);
    await anon.close();
  });

  it("a stale save is CONFLICT and a user's session is FORBIDDEN; nothing changes", async () => {
    await setSwitch("true");
    const action = builtAction("saveRegistrationSettingAction");
    const stale = await callAction(
      base,
      action,
      [{ enabled: false, version: "stale" }],
      await sessionCookieFor(DEMO_ADMIN.email),
    );
    expect(stale.body).toBe('{"ok":false,"code":"CONFLICT"}');
    const denied = await callAction(
      base,
      action,
      [{ enabled: false, version: "stale" }],
      await sessionCookieFor("alice@example.com"),
    );
    expect(denied.body).toContain('"code":"FORBIDDEN"');
    expect((await c.query("SELECT value FROM settings WHERE key = $1", [KEY])).rows).toEqual([{ value: "true" }]);
  });
});

describe.skipIf(ATTACHED)("with registration open", () => {
  beforeEach(async () => {
    await setSwitch("true");
  });

  it.each([
    [
      "en-US",
      "en",
      "This password is too easy to guess. It is one of the most used passwords. Add more words that are less common.",
    ],
    ["zh-CN", "zh", "这个密码太容易被猜到。这是最常用的密码之一。再加几个不常见的词。"],
  ] as const)(
    "%s: 12345678 is refused with a message that says why; nothing is written",
    async (locale, l, message) => {
      const ctx = await browser.newContext({ locale });
      const page = await ctx.newPage();
      await page.goto(`${base}/${l}/register`);
      await fillRegister(page, `e2e-reg-weak-${l}@example.com`, "12345678");
      await expect.poll(() => page.locator("#password-hint").textContent()).toBe(message);
      expect(await page.locator('input[name="password"]').getAttribute("aria-invalid")).toBe("true");
      await screenshot(page, `register-weak-password-${l}`);
      expect(await accountsOf(`e2e-reg-weak-${l}@example.com`)).toBe(0);
      await ctx.close();
    },
  );

  // Guards account enumeration: a taken address must not get its own answer (it was EMAIL_TAKEN).
  it("a taken address (any case) gets the same generic answer as a reserved one; nothing is written", async () => {
    const before = await userCount();
    const taken = await register({ email: " ALICE@example.com", password: STRONG });
    const reserved = await register({ email: "linuxdo-1@linuxdo-connect.invalid", password: STRONG });
    expect(JSON.parse(taken.body)).toEqual({ code: "REGISTRATION_FAILED", email: " ALICE@example.com" });
    expect(JSON.parse(reserved.body)).toEqual({
      code: "REGISTRATION_FAILED",
      email: "linuxdo-1@linuxdo-connect.invalid",
    });
    expect(taken.raw).not.toMatch(/TAKEN|exists/i);
    expect(await userCount()).toBe(before);

    const ctx = await browser.newContext({ locale: "en-US" });
    const page = await ctx.newPage();
    await page.goto(`${base}/en/register`);
    await fillRegister(page, "Alice@Example.com", STRONG);
    await expect
      .poll(() => page.locator("#register-error").textContent())
      .toBe("We could not create an account with these details. If you already have one, sign in instead.");
    await ctx.close();
  });

  it("8 concurrent sign-ups over HTTP with case/whitespace variants of one address create exactly 1 account", async () => {
    const variants = [
      "e2e-reg-race@example.com",
      "E2E-REG-RACE@EXAMPLE.COM",
      " e2e-reg-race@example.com",
      "e2e-reg-race@example.com ",
      "E2e-Reg-Race@Example.com",
      "e2e-reg-race@EXAMPLE.com",
      "  E2E-reg-race@example.com",
      "e2e-REG-race@example.COM",
    ];
    const results = await Promise.all(variants.map((email) => register({ email, password: STRONG })));
    const created = results.filter((x) => x.headers.get("x-action-redirect")?.startsWith("/en/dashboard"));
    expect(created).toHaveLength(1);
    expect(created[0].headers.get("set-cookie")).toMatch(/__Host-qc_session=/);
    const failed = results.filter((x) => x !== created[0]).map((x) => JSON.parse(x.body).code);
    expect(failed).toEqual(Array(7).fill("REGISTRATION_FAILED"));
    expect(await accountsOf("e2e-reg-race@example.com")).toBe(1);
  });

  it("a client gets 10 attempts an hour; the 11th is RATE_LIMITED and creates nothing", async () => {
    for (let i = 0; i < 10; i++) {
      const res = await register({ email: "alice@example.com", password: STRONG });
      expect(JSON.parse(res.body).code, `attempt ${i + 1}`).toBe("REGISTRATION_FAILED");
    }
    const res = await register({ email: "e2e-reg-limited@example.com", password: STRONG });
    expect(JSON.parse(res.body)).toMatchObject({ code: "RATE_LIMITED" });
    expect(JSON.parse(res.body).retryAfterSeconds).toBeGreaterThan(3000);
    expect(await accountsOf("e2e-reg-limited@example.com")).toBe(0);
  });

  // The register action and /api/metrics are separate server bundles: a per-module counter read 0.
  it("a sign-up that fell back from an unreadable system default is counted in /api/metrics", async () => {
    const metric = async () => {
      const res = await fetch(`${base}/api/metrics`, { headers: { Authorization: `Bearer ${E2E_METRICS_TOKEN}` } });
      const line = (await res.text())
        .split("\n")
        .find((l) => l.startsWith('qc_signup_defaults_fallbacks_total{kind="unreadable"}'));
      return Number(line?.split(" ")[1]);
    };
    const saved = (await c.query("SELECT value FROM settings WHERE key = 'default_platform_quotas'")).rows[0]?.value as
      string | undefined;
    const before = await metric();
    expect(Number.isFinite(before)).toBe(true);
    await c.query(
      "INSERT INTO settings (key, value) VALUES ('default_platform_quotas', '{not json') ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
    );
    try {
      const res = await register({ email: "e2e-reg-fallback@example.com", password: STRONG });
      expect(res.headers.get("set-cookie")).toMatch(/qc_session=/);
      expect(await metric()).toBe(before + 1);
    } finally {
      if (saved === undefined) await c.query("DELETE FROM settings WHERE key = 'default_platform_quotas'");
      else await c.query("UPDATE settings SET value = $1 WHERE key = 'default_platform_quotas'", [saved]);
    }
  });

  // Issue 10 #7: `registerAction` answered 500 ("b.get is not a function") to anything but a form.
  it("answers INVALID_INPUT to arguments that are not a form, and field codes (never zod's English) to missing fields", async () => {
    const action = builtAction("registerAction");
    for (const args of [
      [{}, { email: "x@example.com", password: STRONG }],
      [{}, "email=x"],
      [],
      [null, null],
      [{}, ["x"]],
    ]) {
      const res = await callAction(base, action, args);
      expect(res.status, JSON.stringify(args)).toBe(200);
      expect(JSON.parse(res.body), JSON.stringify(args)).toEqual({ code: "INVALID_INPUT" });
    }
    const missing = await callFormAction(base, action, { locale: "en" });
    expect(JSON.parse(missing.body)).toEqual({
      code: "INVALID_INPUT",
      fieldErrors: { email: ["REQUIRED"], password: ["REQUIRED"] },
      email: "",
    });
    expect(missing.raw).not.toContain("Invalid input");
  });
});
