import Redis from "ioredis";
import type pg from "pg";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from "vitest";

import { billingKeys } from "@/lib/billing/keys";
import { createBillingRuntime, type BillingRuntime } from "@/lib/billing/runtime";
import { DEMO_ADMIN } from "@/lib/seed/demo";

import { builtAction, callAction } from "../support/actions";
import { launchChromium, screenshot, signIn } from "../support/browser";
import { rawDb } from "../support/db";
import { sessionCookieFor } from "../support/session";
import { testEnv } from "../support/test-env";

/**
 * Admin → Cache health in Chromium (en and zh, desktop and phone) against the production build: the
 * status panel, a drift injected straight into Redis (as a buggy writer would leave it), the drift
 * check finding it, Repair / Repair all removing it (audited), and the role checks of the page, the
 * status route and the three actions.
 */
const base = inject("baseURL");
const EMAIL = `cache-health-${Date.now()}@example.com`;
let browser: Browser;
let c: pg.Client;
let r: Redis;
let billing: BillingRuntime;
let userId: number;
const key = () => billingKeys.userPlatformQuota(userId, "anthropic");

/** A fresh quota row (used $1.50 of $10 a day) and its Redis hash as the gateway's check builds it. */
async function freshKey() {
  await r.del(key());
  await c.query("DELETE FROM user_platform_quotas WHERE user_id = $1", [userId]);
  await c.query("DELETE FROM console_audit_logs WHERE target_id = $1", [key()]);
  await billing.repo.upsertForUser(userId, [
    { platform: "anthropic", limits: { daily: 10, weekly: 50, monthly: null } },
  ]);
  await billing.repo.incrementUsageWithReset(userId, "anthropic", 1.5, Date.now());
  expect((await billing.service.checkUserPlatformQuotaEligibility(userId, "anthropic")).allowed).toBe(true);
  expect(await r.hget(key(), "daily_usage")).toBe("1.5");
}

const audits = async () =>
  (
    await c.query(
      "SELECT actor_email, target_type, changes FROM console_audit_logs WHERE action = 'cache.repair' AND target_id = $1 ORDER BY id",
      [key()],
    )
  ).rows;

async function adminOn(locale: "en" | "zh", viewport?: { width: number; height: number }): Promise<Page> {
  const ctx = await browser.newContext({
    locale: locale === "zh" ? "zh-CN" : "en-US",
    timezoneId: "Asia/Shanghai",
    ...(viewport ? { viewport } : {}),
  });
  const page = await ctx.newPage();
  await page.goto(`${base}/${locale}/sign-in`);
  await signIn(page, DEMO_ADMIN.email, DEMO_ADMIN.password);
  await page.waitForURL(`${base}/${locale}/dashboard`);
  return page;
}

const noHorizontalScroll = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth);

beforeAll(async () => {
  browser = await launchChromium();
  c = await rawDb();
  r = new Redis(testEnv().redisUrl);
  billing = createBillingRuntime({
    databaseUrl: testEnv().databaseUrl,
    redisUrl: testEnv().redisUrl,
    timeZone: "Asia/Shanghai",
    repair: false,
  });
  userId = Number(
    (await c.query("INSERT INTO users (email, password_hash) VALUES ($1, 'x') RETURNING id", [EMAIL])).rows[0].id,
  );
});
beforeEach(freshKey);
afterAll(async () => {
  await r.del(key());
  await c.query("DELETE FROM console_audit_logs WHERE target_id = $1", [key()]);
  await c.query("DELETE FROM users WHERE id = $1", [userId]);
  await browser?.close();
  await billing.close();
  await r.quit();
  await c.end();
});

describe("Cache health page", () => {
  it("en: status panel; an injected usage drift is found, repaired from its row, audited, and gone", async () => {
    const page = await adminOn("en");
    await page.getByTestId("admin-menu").getByRole("link", { name: "Cache health" }).click();
    await page.waitForURL(`${base}/en/admin/cache`);
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("Cache health");
    expect(
      await page.getByTestId("admin-menu").getByRole("link", { name: "Cache health" }).getAttribute("aria-current"),
    ).toBe("page");
    expect(await page.getByTestId("status-mode-value").textContent()).toBe("Direct");
    expect(await page.getByTestId("status-journal-value").textContent()).toBe("0");
    expect(await page.getByTestId("status-stores-value").textContent()).toMatch(
      /^PostgreSQL: reachable \(.+ ms\)Redis: reachable \(.+ ms\)$/,
    );
    expect(await page.getByTestId("status-journal").textContent()).toContain(
      "journal > 0: PostgreSQL writes are being retried.",
    );
    // Live: the panel reads the status route again (every 10 s).
    const polled = await page.waitForResponse((res) => res.url().endsWith("/api/v1/admin/cache/status"), {
      timeout: 15_000,
    });
    expect((await polled.json()).data.mode).toBe("direct");

    await r.hset(key(), "daily_usage", "9.75");
    await page.getByRole("button", { name: "Run drift check" }).click();
    const row = page.getByTestId(`drift-row-${userId}-anthropic`);
    await row.waitFor().catch(async (e: unknown) => {
      // Say what the check answered instead (summary or message) and what the stores hold: a fresh-clone
      // CI once timed out here and the test told nothing more.
      const result = await page
        .getByTestId("drift-result")
        .textContent({ timeout: 1000 })
        .catch(() => null);
      const stored = await r.hgetall(key());
      throw new Error(`no drift row: result ${JSON.stringify(result)}; Redis ${JSON.stringify(stored)}; ${String(e)}`);
    });
    expect(await row.getByTestId("drift-kind").textContent()).toBe("usage");
    expect(await row.getByTestId("drift-redis").locator('[data-window="daily"]').textContent()).toBe(
      "Day $9.75 (differs) / $10.00",
    );
    expect(await row.getByTestId("drift-postgres").locator('[data-window="daily"]').textContent()).toBe(
      "Day $1.50 (differs) / $10.00",
    );
    expect(await row.getByTestId("drift-postgres").locator('[data-window="monthly"]').textContent()).toBe(
      "30 days $1.50 / unlimited",
    );
    expect(await row.getByRole("link", { name: `Open user ${userId} in Users` }).getAttribute("href")).toBe(
      `/en/admin/users?q=${encodeURIComponent(EMAIL)}`,
    );
    expect(await page.getByTestId("drift-summary").textContent()).toMatch(/drifted [1-9]\d* · repaired 0$/);
    expect(await page.evaluate(() => document.activeElement?.getAttribute("data-testid"))).toBe("drift-result");
    expect(await page.getByRole("table", { name: "Keys where Redis and PostgreSQL differ" }).count()).toBe(1);
    await screenshot(page, "cache-health-en-desktop");

    await row.getByRole("button", { name: `Repair user ${userId}, Claude` }).click();
    await expect
      .poll(() => page.getByTestId("drift-message").textContent())
      .toMatch(
        new RegExp(
          `^User ${userId}, Claude: dropped from Redis, rebuilt from PostgreSQL on the next check\\. Checked again: \\d+ drifted\\.$`,
        ),
      );
    expect(await row.count()).toBe(0);
    expect(await page.evaluate(() => document.activeElement?.getAttribute("data-testid"))).toBe("drift-result");
    expect(await r.exists(key())).toBe(0);
    // The next check rebuilds it from PostgreSQL.
    await billing.service.checkUserPlatformQuotaEligibility(userId, "anthropic");
    expect(await r.hget(key(), "daily_usage")).toBe("1.5");
    const [audit] = await audits();
    expect(audit).toMatchObject({ actor_email: DEMO_ADMIN.email, target_type: "cache" });
    expect(audit.changes[0]).toMatchObject({
      key: key(),
      platform: "anthropic",
      before: { redis: { daily: 9.75 }, postgres: { daily: 1.5 } },
      after: { outcome: "dropped", mode: "direct" },
    });
    await expect.poll(() => page.getByTestId("status-last-drift-value").textContent()).toMatch(/checked/);
    await page.context().close();
  });

  it("zh: a limit drift is listed in Chinese and Repair all removes it; a row that vanished meanwhile gets a localized error", async () => {
    const page = await adminOn("zh");
    await page.goto(`${base}/zh/admin/cache`);
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe("缓存健康");
    expect(await page.getByTestId("status-mode-value").textContent()).toBe("直写");
    expect(await page.getByTestId("status-journal").textContent()).toContain("journal > 0：PostgreSQL 写入正在重试。");
    await r.hset(key(), "daily_limit", "99");
    await page.getByRole("button", { name: "运行漂移检查" }).click();
    const row = page.getByTestId(`drift-row-${userId}-anthropic`);
    await row.waitFor();
    expect(await row.getByTestId("drift-kind").textContent()).toBe("限额");
    expect(await row.getByTestId("drift-redis").locator('[data-window="daily"]').textContent()).toBe(
      "日 $1.50 / $99.00 （不一致）",
    );
    expect(await page.getByRole("table", { name: "Redis 与 PostgreSQL 不一致的键" }).count()).toBe(1);
    await screenshot(page, "cache-health-zh-desktop");

    await page.getByRole("button", { name: /^全部修复（\d+）$/ }).click();
    await expect
      .poll(() => page.getByTestId("drift-message").textContent())
      .toMatch(/^已从 Redis 删除 \d+ 个键，下次检查时将从 PostgreSQL 重建。 已重新检查：漂移 \d+ 个。$/);
    expect(await row.count()).toBe(0);
    expect(await r.exists(key())).toBe(0);
    expect((await audits()).map((a) => a.changes[0].after)).toEqual([
      { outcome: "dropped", mode: "direct", kind: "limits" },
    ]);

    // The row is removed between the check and the click: nothing is changed, the error is in Chinese.
    await freshKey();
    await r.hset(key(), "daily_usage", "8");
    await page.getByRole("button", { name: "运行漂移检查" }).click();
    await row.waitFor();
    await c.query("UPDATE user_platform_quotas SET deleted_at = now() WHERE user_id = $1", [userId]);
    await row.getByRole("button", { name: `修复用户 ${userId} 的 Claude` }).click();
    await expect
      .poll(() => page.getByTestId("drift-message").textContent())
      .toBe("该用户在此平台没有配额记录，未做任何修改。");
    expect(await page.getByTestId("drift-message").getAttribute("role")).toBe("alert");
    expect(await r.hget(key(), "daily_usage")).toBe("8");
    await page.context().close();
  });

  it.each(["en", "zh"] as const)(
    "%s on a 390×844 phone: no horizontal page scroll, the table scrolls in its own box, Repair is reachable",
    async (locale) => {
      const page = await adminOn(locale, { width: 390, height: 844 });
      await page.goto(`${base}/${locale}/admin/cache`);
      expect(await noHorizontalScroll(page)).toBeLessThanOrEqual(390);
      await r.hset(key(), "daily_usage", "4.25");
      await page.getByRole("button", { name: locale === "en" ? "Run drift check" : "运行漂移检查" }).click();
      const row = page.getByTestId(`drift-row-${userId}-anthropic`);
      await row.waitFor();
      expect(await noHorizontalScroll(page)).toBeLessThanOrEqual(390);
      const box = page.getByTestId("drift-table-box");
      expect(await box.evaluate((el) => el.scrollWidth > el.clientWidth)).toBe(true); // scrolls inside its own box
      await screenshot(page, `cache-health-${locale}-phone`);
      await row
        .getByRole("button", {
          name: locale === "en" ? `Repair user ${userId}, Claude` : `修复用户 ${userId} 的 Claude`,
        })
        .click();
      await expect.poll(() => row.count()).toBe(0);
      expect(await r.exists(key())).toBe(0);
      expect(await noHorizontalScroll(page)).toBeLessThanOrEqual(390);
      await page.context().close();
    },
  );
});

describe("authorization and input of the status route and the actions", () => {
  it("the page is 403 for a user; the status route is 401 / 403 / 200 with the envelope", async () => {
    const user = await sessionCookieFor("alice@example.com");
    const admin = await sessionCookieFor(DEMO_ADMIN.email);
    const pageRes = await fetch(`${base}/en/admin/cache`, { redirect: "manual", headers: { Cookie: user } });
    expect(pageRes.status).toBe(403);
    const url = `${base}/api/v1/admin/cache/status`;
    expect((await fetch(url)).status).toBe(401);
    const denied = await fetch(url, { headers: { Cookie: user } });
    expect(denied.status).toBe(403);
    expect(await denied.json()).toEqual({ code: 403, message: "FORBIDDEN" });
    const ok = await fetch(url, { headers: { Cookie: admin } });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("cache-control")).toBe("no-store");
    const body = await ok.json();
    expect(body).toMatchObject({
      code: 0,
      message: "success",
      data: { mode: "direct", database: { status: "up" }, redis: { status: "up" }, ledger: { journal: 0 } },
    });
    expect(Object.keys(body.data.ledger).sort()).toEqual([
      "dirty",
      "flushing",
      "journal",
      "lastDrift",
      "lastFlushAgeSeconds",
      "outbox",
    ]);
    expect(JSON.stringify(body)).not.toMatch(/postgres(ql)?:\/\/|redis:\/\/|127\.0\.0\.1/);
  });

  // A user's session must not reach the check or a repair, whatever the input: the role is checked first.
  it("a user's session is FORBIDDEN for all three actions, valid input or not, and nothing changes", async () => {
    const user = await sessionCookieFor("alice@example.com");
    await r.hset(key(), "daily_usage", "6");
    for (const [name, input] of [
      ["runDriftCheckAction", {}],
      ["repairDriftKeyAction", { userId, platform: "anthropic" }],
      ["repairDriftKeyAction", { userId: "abc", platform: "mistral" }],
      ["repairAllDriftAction", {}],
    ] as const) {
      const res = await callAction(base, builtAction(name), [input], user);
      expect(res.body, name).toBe('{"ok":false,"code":"FORBIDDEN"}');
    }
    expect(await r.hget(key(), "daily_usage")).toBe("6");
    expect(await audits()).toEqual([]);
  });

  it("an admin's bad input is INVALID_INPUT with field codes (non-numeric id, unknown platform); an id without a row is QUOTA_NOT_FOUND; nothing changes", async () => {
    const admin = await sessionCookieFor(DEMO_ADMIN.email);
    await r.hset(key(), "daily_usage", "6");
    const repair = builtAction("repairDriftKeyAction");
    const badId = await callAction(base, repair, [{ userId: "abc", platform: "anthropic" }], admin);
    expect(badId.body).toBe('{"ok":false,"code":"INVALID_INPUT","fieldErrors":{"userId":["INVALID_ID"]}}');
    const badPlatform = await callAction(base, repair, [{ userId, platform: "mistral" }], admin);
    expect(badPlatform.body).toBe(
      '{"ok":false,"code":"INVALID_INPUT","fieldErrors":{"platform":["UNKNOWN_PLATFORM"]}}',
    );
    const extra = await callAction(base, builtAction("runDriftCheckAction"), [{ repair: true }], admin);
    expect(extra.body).toContain('"code":"INVALID_INPUT"');
    const missing = await callAction(base, repair, [{ userId: 99_999_999, platform: "anthropic" }], admin);
    expect(missing.body).toBe('{"ok":false,"code":"QUOTA_NOT_FOUND"}');
    expect(await r.hget(key(), "daily_usage")).toBe("6");
    expect(await audits()).toEqual([]);

    const check = await callAction(base, builtAction("runDriftCheckAction"), [{}], admin);
    expect(check.body).toContain('"ok":true');
    expect(check.body).toContain(`"userId":${userId},"platform":"anthropic","kind":"usage"`);
    expect(await r.hget(key(), "daily_usage")).toBe("6"); // the check is read-only
  });
});
