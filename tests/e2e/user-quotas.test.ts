import type pg from "pg";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

import { DEFAULT_PLATFORMS } from "@/lib/billing/platforms";
import { createBillingRuntime, type BillingRuntime } from "@/lib/billing/runtime";
import { DEMO_ADMIN } from "@/lib/seed/demo";

import { builtAction, callAction } from "../support/actions";
import { launchChromium, screenshot, signIn } from "../support/browser";
import { rawDb } from "../support/db";
import { sessionCookieFor } from "../support/session";
import { testEnv } from "../support/test-env";

/**
 * Admin users page + per-user quota modal in Chromium (zh and en), with the gateway's billing chain
 * (lib/billing, as a Node gateway would run it) enforcing each change on the next request.
 */
const base = inject("baseURL");
let browser: Browser;
let c: pg.Client;
let billing: BillingRuntime;

const idOf = async (email: string) =>
  Number((await c.query("SELECT id FROM users WHERE email = $1", [email])).rows[0].id);

async function adminOn(locale: "en" | "zh"): Promise<Page> {
  const ctx = await browser.newContext({
    locale: locale === "zh" ? "zh-CN" : "en-US",
    timezoneId: "America/Los_Angeles",
  });
  const page = await ctx.newPage();
  page.on("dialog", (d) => void d.accept()); // the reset window's confirm()
  await page.goto(`${base}/${locale}/sign-in`);
  await signIn(page, DEMO_ADMIN.email, DEMO_ADMIN.password);
  await page.waitForURL(`${base}/${locale}/dashboard`);
  return page;
}

async function snapshot(userId: number) {
  const q = await c.query(
    "SELECT platform, daily_limit_usd::text, weekly_limit_usd::text, monthly_limit_usd::text, daily_usage_usd::text, deleted_at FROM user_platform_quotas WHERE user_id = $1 ORDER BY id",
    [userId],
  );
  const a = await c.query("SELECT count(*)::int AS n FROM console_audit_logs WHERE target_id = $1", [String(userId)]);
  return { rows: q.rows, audits: a.rows[0].n };
}

beforeAll(async () => {
  browser = await launchChromium();
  c = await rawDb();
  billing = createBillingRuntime({
    databaseUrl: testEnv().databaseUrl,
    redisUrl: testEnv().redisUrl,
    timeZone: "Asia/Shanghai",
  });
});
afterAll(async () => {
  await browser?.close();
  await billing.close();
  await c.end();
});

describe("per-user platform quotas", () => {
  it("en: search, set anthropic daily 5 → row shows 0/5 → the gateway blocks after $5 → reset → allowed → Clear all → unlimited", async () => {
    const page = await adminOn("en");
    const bob = await idOf("bob.dev@example.org");
    await page.goto(`${base}/en/admin/users`);
    await page.getByRole("searchbox").fill("bob.dev");
    await page.getByRole("button", { name: "Apply" }).click();
    await page.waitForURL(/q=bob\.dev/);
    expect(await page.getByTestId("result-count").textContent()).toBe("1 user");
    const row = page.locator(`tr[data-testid="user-row-${bob}"]`);
    expect(await row.getByTestId("quota-cell").textContent()).toBe("Not configured");

    await row.getByRole("button", { name: "Platform quotas of bob.dev@example.org" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.locator('[data-cell="quotas.anthropic.daily"]').fill("5");
    await dialog.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => page.getByTestId("toast").textContent()).toBe("Platform quotas updated");
    await expect.poll(() => row.getByTestId("quota-cell").textContent()).toContain("Claudedaily 0/5");

    // The gateway enforces it on the very next request.
    expect((await billing.service.checkUserPlatformQuotaEligibility(bob, "anthropic")).allowed).toBe(true);
    await billing.service.recordUsage({ userId: bob, platform: "anthropic", cost: 5 });
    expect(await billing.service.checkUserPlatformQuotaEligibility(bob, "anthropic")).toMatchObject({
      allowed: false,
      error: { reason: "USER_PLATFORM_DAILY_QUOTA_EXHAUSTED" },
    });
    await page.reload();
    await expect.poll(() => row.getByTestId("quota-cell").textContent()).toContain("daily 5/5");

    await row.getByRole("button", { name: "Platform quotas of bob.dev@example.org" }).click();
    await expect
      .poll(() => dialog.locator('[data-usage="anthropic.daily"]').textContent())
      .toMatch(/^used \$5\.00 · resets /);
    // The reset instant comes from the server; it is shown in the browser's zone (Los Angeles here).
    const api = await (
      await fetch(`${base}/api/v1/admin/users/${bob}/platform-quotas`, {
        headers: { Cookie: await sessionCookieFor(DEMO_ADMIN.email) },
      })
    ).json();
    const resetsAt = api.data.platform_quotas.find(
      (q: { platform: string }) => q.platform === "anthropic",
    ).daily_window_resets_at;
    expect(resetsAt).toMatch(/T00:00:00\+08:00$/);
    // The same format as the dashboard's, with the zone named (issue 13 #7: "12/2, 17:00" vs "Dec 2, 05:00 PM").
    const la = new Intl.DateTimeFormat("en", {
      month: "short",
      day: "numeric",
      hour: "2-digit",
      minute: "2-digit",
      timeZoneName: "short",
      timeZone: "America/Los_Angeles",
    }).format(new Date(resetsAt));
    expect(await dialog.locator('[data-usage="anthropic.daily"] > span').textContent()).toBe(
      `used $5.00 · resets ${la}`,
    );
    expect(await dialog.getByTestId("modal-last-change").textContent()).toMatch(/^Last change: admin@example\.com, /);
    // Why this limit: the cell names the edit that set it, linked to the audit log.
    const origin = dialog.locator('tr[data-matrix-platform="anthropic"] td').first().locator("[data-origin]");
    expect(await origin.getAttribute("data-origin")).toBe("edit");
    expect(await origin.textContent()).toMatch(/^Set by admin@example\.com, /);
    await dialog.getByRole("button", { name: "Reset daily usage of Claude" }).click();
    await expect.poll(() => page.getByTestId("toast").textContent()).toBe("Reset Claude daily usage");
    await expect.poll(() => dialog.locator('[data-usage="anthropic.daily"]').textContent()).toMatch(/^used \$0\.00/);
    expect((await billing.service.checkUserPlatformQuotaEligibility(bob, "anthropic")).allowed).toBe(true);
    await screenshot(page, "user-quota-modal-en");

    await dialog.getByRole("button", { name: "Clear All (remove all limits)" }).click();
    await page.getByRole("alertdialog").getByRole("button", { name: "Clear all" }).click();
    expect(await dialog.locator('[data-cell="quotas.anthropic.daily"]').inputValue()).toBe("");
    await dialog.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => row.getByTestId("quota-cell").textContent()).toBe("Not configured");
    const rows = await c.query(
      "SELECT platform, daily_limit_usd FROM user_platform_quotas WHERE user_id = $1 AND deleted_at IS NULL",
      [bob],
    );
    expect(rows.rows.map((r) => r.platform).sort()).toEqual([...DEFAULT_PLATFORMS].sort()); // no platform dropped
    expect(rows.rows.every((r) => r.daily_limit_usd === null)).toBe(true);
    await page.context().close();
  });

  it("zh: invalid cells are marked and block saving; a valid save shows 0/3 in the row", async () => {
    const page = await adminOn("zh");
    const carol = await idOf("carol.w@example.net");
    await page.goto(`${base}/zh/admin/users?q=carol`);
    const row = page.locator(`tr[data-testid="user-row-${carol}"]`);
    await row.getByRole("button", { name: "carol.w@example.net 的平台限额" }).click();
    const dialog = page.getByRole("dialog");
    expect(await dialog.getByRole("heading", { level: 2 }).textContent()).toBe("平台限额");
    const before = await snapshot(carol);
    const cell = dialog.locator('[data-cell="quotas.openai.weekly"]');
    await cell.fill("abc");
    expect(await cell.getAttribute("aria-invalid")).toBe("true");
    expect(await dialog.locator('[id="quotas.openai.weekly-error"]').textContent()).toBe(
      "请输入数字，例如 10 或 0.5。",
    );
    await dialog.locator('[data-cell="quotas.gemini.daily"]').fill("-1");
    expect(await dialog.locator('[id="quotas.gemini.daily-error"]').textContent()).toBe("不能小于 0。");
    await dialog.getByRole("button", { name: "保存" }).click();
    await expect
      .poll(() => page.getByTestId("toast").textContent())
      // Display names, not raw ids ("openai.weekly"): issue 13 #7.
      .toBe("以下字段填写不是合法数字，请修正后再保存：OpenAI 周, Gemini 日");
    expect(await snapshot(carol)).toEqual(before);

    await cell.fill("3");
    await dialog.locator('[data-cell="quotas.gemini.daily"]').fill("");
    await dialog.getByRole("button", { name: "保存" }).click();
    await expect.poll(() => page.getByTestId("toast").textContent()).toBe("平台限额已更新");
    await expect.poll(() => row.getByTestId("quota-cell").textContent()).toContain("OpenAI日 0/—周 0/3月 0/—");
    await screenshot(page, "admin-users-zh-quotas");
    await page.context().close();
  });
});

describe("the quota actions and read route without the browser", () => {
  // The action takes the settings save's QuotaMap shape: a field error's path is the cell's path.
  const full = (over: Record<string, unknown> = {}) => ({
    openai: { daily: null, weekly: null, monthly: null, ...over },
  });

  it.each([
    [
      "unknown platform",
      { mistral: { daily: 1, weekly: null, monthly: null } },
      '"quotas.mistral":["UNKNOWN_PLATFORM"]',
    ],
    ["not a map", [{ platform: "openai", daily_limit_usd: 1 }], '"quotas":["INVALID_MAP"]'],
    ["unknown window", full({ yearly: 2 }), '"quotas.openai":["INVALID_LIMITS"]'],
    ["negative", full({ daily: -1 }), '"quotas.openai.daily":["NEGATIVE"]'],
    ["string", full({ weekly: "10" }), '"quotas.openai.weekly":["NOT_A_NUMBER"]'],
    ["> 10^10", full({ monthly: 2e10 }), '"quotas.openai.monthly":["TOO_LARGE"]'],
  ])("%s → refused, nothing changed", async (_name, quotas, code) => {
    const bob = await idOf("bob.dev@example.org");
    const cookie = await sessionCookieFor(DEMO_ADMIN.email);
    const before = await snapshot(bob);
    const r = await callAction(
      base,
      builtAction("saveUserPlatformQuotasAction"),
      [{ userId: bob, version: "0.0", quotas }],
      cookie,
    );
    expect(r.body).toContain('"code":"INVALID_INPUT"');
    expect(r.body).toContain(code);
    expect(await snapshot(bob)).toEqual(before);
  });

  it("NaN (React's $NaN encoding) is refused; a user's session is FORBIDDEN; an unknown user is USER_NOT_FOUND; no or a stale version is refused", async () => {
    const bob = await idOf("bob.dev@example.org");
    const admin = await sessionCookieFor(DEMO_ADMIN.email);
    const user = await sessionCookieFor("alice@example.com");
    const action = builtAction("saveUserPlatformQuotasAction");
    const before = await snapshot(bob);
    const nan = await callAction(
      base,
      action,
      `[{"userId":${bob},"version":"0.0","quotas":{"openai":{"daily":"$NaN","weekly":null,"monthly":null}}}]`,
      admin,
    );
    expect(nan.body).toContain('"quotas.openai.daily":["NOT_FINITE"]');
    const denied = await callAction(base, action, [{ userId: bob, version: "0.0", quotas: full({ daily: 1 }) }], user);
    expect(denied.body).toBe('{"ok":false,"code":"FORBIDDEN"}');
    const reset = await callAction(
      base,
      builtAction("resetUserPlatformQuotaWindowAction"),
      [{ userId: bob, platform: "openai", window: "daily" }],
      user,
    );
    expect(reset.body).toBe('{"ok":false,"code":"FORBIDDEN"}');
    const missing = await callAction(base, action, [{ userId: 99_999_999, version: "0.0", quotas: full() }], admin);
    expect(missing.body).toBe('{"ok":false,"code":"USER_NOT_FOUND"}');
    const noVersion = await callAction(base, action, [{ userId: bob, quotas: full() }], admin);
    expect(noVersion.body).toContain('"version":["INVALID_VERSION"]');
    const stale = await callAction(base, action, [{ userId: bob, version: "0.0", quotas: full({ daily: 1 }) }], admin);
    expect(stale.body).toBe('{"ok":false,"code":"CONFLICT"}');
    const badWindow = await callAction(
      base,
      builtAction("resetUserPlatformQuotaWindowAction"),
      [{ userId: bob, platform: "openai", window: "yearly" }],
      admin,
    );
    expect(badWindow.body).toContain('"window":["INVALID_WINDOW"]');
    expect(await snapshot(bob)).toEqual(before);
  });

  it("GET /api/v1/admin/users/:id/platform-quotas: 401, 403, 400, 404 and the gateway's envelope", async () => {
    const bob = await idOf("bob.dev@example.org");
    const url = (id: string | number) => `${base}/api/v1/admin/users/${id}/platform-quotas`;
    expect((await fetch(url(bob))).status).toBe(401);
    expect((await fetch(url(bob), { headers: { Cookie: await sessionCookieFor("alice@example.com") } })).status).toBe(
      403,
    );
    const admin = { headers: { Cookie: await sessionCookieFor(DEMO_ADMIN.email) } };
    expect(await (await fetch(url("abc"), admin)).json()).toEqual({ code: 400, message: "invalid user id" });
    const nf = await fetch(url(99_999_999), admin);
    expect(nf.status).toBe(404);
    expect(await nf.json()).toMatchObject({ code: 404, reason: "USER_NOT_FOUND" });
    const ok = await (await fetch(url(bob), admin)).json();
    expect(ok).toMatchObject({ code: 0, message: "success" });
    expect(Object.keys(ok.data.platform_quotas[0]).sort()).toEqual(
      [
        "platform",
        "usage_source",
        "daily_usage_usd",
        "daily_limit_usd",
        "daily_window_resets_at",
        "daily_window_start",
        "weekly_usage_usd",
        "weekly_limit_usd",
        "weekly_window_resets_at",
        "weekly_window_start",
        "monthly_usage_usd",
        "monthly_limit_usd",
        "monthly_window_resets_at",
        "monthly_window_start",
      ].sort(),
    );
  });
});
