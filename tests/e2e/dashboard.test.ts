import { spawn } from "node:child_process";
import type pg from "pg";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

import { hashPassword } from "@/lib/auth/password";

import { launchChromium, screenshot, signIn } from "../support/browser";
import { rawDb } from "../support/db";
import { sessionCookieFor } from "../support/session";

/**
 * The user dashboard in Chromium: values from the database in zh and en, live updates while the
 * gateway simulator records usage, the blocking window, reset times in the browser's zone, and a
 * read API that only ever answers with the session's own data.
 */
const base = inject("baseURL");
const EMAIL = "e2e-dash@example.com";
const PASSWORD = "dashboard-pass";
let browser: Browser;
let c: pg.Client;
let userId: number;

async function dashboard(locale: "en" | "zh", timezoneId: string): Promise<Page> {
  const ctx = await browser.newContext({ locale: locale === "zh" ? "zh-CN" : "en-US", timezoneId });
  const page = await ctx.newPage();
  await page.goto(`${base}/${locale}/sign-in`);
  await signIn(page, EMAIL, PASSWORD);
  await page.waitForURL(`${base}/${locale}/dashboard`);
  return page;
}

beforeAll(async () => {
  browser = await launchChromium();
  c = await rawDb();
  const u = await c.query("INSERT INTO users (email, password_hash, balance) VALUES ($1, $2, 12.34) RETURNING id", [
    EMAIL,
    await hashPassword(PASSWORD),
  ]);
  userId = Number(u.rows[0].id);
  await c.query(
    `INSERT INTO user_platform_quotas (user_id, platform, daily_limit_usd, weekly_limit_usd, monthly_limit_usd) VALUES
       ($1, 'anthropic', 2, NULL, 50), ($1, 'openai', NULL, NULL, 0), ($1, 'gemini', NULL, NULL, NULL)`,
    [userId],
  );
});
afterAll(async () => {
  await browser?.close();
  await c.query("DELETE FROM users WHERE id = $1", [userId]);
  await c.end();
});

describe("user dashboard", () => {
  it("en: shows the database values, then moves without a reload while the simulator records usage, and shows the blocking window", async () => {
    const page = await dashboard("en", "America/New_York");
    const card = page.locator('[data-quota-card="anthropic"]');
    await expect.poll(() => page.getByTestId("usage-anthropic-daily").textContent()).toBe("$0.00 of $2.00$2.00 left");
    expect(await page.locator('[data-quota-card="openai"]').getByTestId("usage-openai-monthly").textContent()).toBe(
      "Disabled",
    );
    expect(await page.getByTestId("blocked-openai").textContent()).toBe(
      "Monthly (30-day rolling) window is disabled for OpenAI: requests are blocked.",
    );
    expect(await page.locator('[data-quota-card="gemini"]').count()).toBe(0); // no limits: no card, but named
    expect(await page.getByTestId("unlimited-platforms").textContent()).toBe("No limits on: Gemini");
    const bar = card.getByRole("progressbar", { name: "Claude Daily usage" });
    expect(await bar.getAttribute("aria-valuenow")).toBe("0");

    // Gateway traffic for this user, through lib/billing, while the page stays open.
    const sim = spawn(
      "node_modules/.bin/tsx",
      [
        "scripts/simulate.ts",
        "--email",
        EMAIL,
        "--platforms",
        "anthropic",
        "--rate",
        "8",
        "--duration",
        "4",
        "--cost-min",
        "0.1",
        "--cost-max",
        "0.2",
        "--json",
      ],
      {
        env: process.env,
        stdio: "ignore",
      },
    );
    const simDone = new Promise((r) => sim.once("exit", r));
    // The page moves without a reload: the poll fails if no refresh shows usage within 15 s.
    await expect
      .poll(async () => Number(await bar.getAttribute("aria-valuenow")), { timeout: 15_000, interval: 500 })
      .toBeGreaterThan(0);
    await simDone;
    await expect
      .poll(() => page.getByTestId("blocked-anthropic").textContent(), { timeout: 15_000, interval: 500 })
      .toMatch(/^Daily limit reached: requests to Claude are blocked until /);
    expect(Number(await bar.getAttribute("aria-valuenow"))).toBe(100);

    // The reset instant comes from the server; it is shown in the browser's zone (New York).
    const api = await (
      await fetch(`${base}/api/v1/user/platform-quotas`, { headers: { Cookie: await sessionCookieFor(EMAIL) } })
    ).json();
    const resetsAt: string = api.data.platform_quotas.find(
      (q: { platform: string }) => q.platform === "anthropic",
    ).daily_window_resets_at;
    expect(resetsAt).toMatch(/T00:00:00\+08:00$/);
    const ny = new Intl.DateTimeFormat("en", {
      month: "short",
      day: "numeric",
      hour: "2-digit",
      minute: "2-digit",
      timeZoneName: "short",
      timeZone: "America/New_York",
    }).format(new Date(resetsAt));
    await expect
      .poll(() => page.getByTestId("resets-anthropic-daily").textContent())
      .toMatch(new RegExp(`^Resets ${ny.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} · in `));
    await screenshot(page, "dashboard-en-blocked");
    await page.context().close();
  });

  it("zh: the same values in Chinese", async () => {
    const page = await dashboard("zh", "Asia/Shanghai");
    expect(await page.locator("#quota-title").textContent()).toBe("配额用量");
    expect(await page.getByTestId("usage-openai-monthly").textContent()).toBe("已禁用");
    expect(await page.locator('[data-quota-card="anthropic"] [data-window="weekly"]').textContent()).toBe("周不限制");
    expect(await page.getByTestId("resets-anthropic-daily").textContent()).toMatch(/重置/);
    await screenshot(page, "dashboard-zh");
    await page.context().close();
  });

  it("a user with no limits sees the unlimited state", async () => {
    // A user of its own (the demo's alice has limits, for the README's simulator command).
    const email = `no-limits-${Date.now()}@example.com`;
    const id = Number(
      (
        await c.query("INSERT INTO users (email, password_hash) VALUES ($1, $2) RETURNING id", [
          email,
          await hashPassword(PASSWORD),
        ])
      ).rows[0].id,
    );
    const ctx = await browser.newContext({ locale: "en-US" });
    const page = await ctx.newPage();
    await page.goto(`${base}/en/sign-in`);
    await signIn(page, email, PASSWORD);
    await page.waitForURL(`${base}/en/dashboard`);
    expect(await page.getByTestId("no-limits").textContent()).toBe(
      "No limits — your usage is unlimited on every platform.",
    );
    await ctx.close();
    await c.query("DELETE FROM users WHERE id = $1", [id]);
  });

  // Guards against reading someone else's quotas through any parameter, header or id.
  it("the read API answers only with the session's own quotas; 401 without a session", async () => {
    expect((await fetch(`${base}/api/v1/user/platform-quotas`)).status).toBe(401);
    const other = Number((await c.query("SELECT id FROM users WHERE email = 'bob.dev@example.org'")).rows[0].id);
    const cookie = await sessionCookieFor(EMAIL);
    for (const url of [`/api/v1/user/platform-quotas?user_id=${other}`, `/api/v1/user/platform-quotas?id=${other}`]) {
      const res = await fetch(`${base}${url}`, { headers: { Cookie: cookie, "X-User-Id": String(other) } });
      const body = await res.json();
      expect(body.data.platform_quotas.map((q: { platform: string }) => q.platform).sort()).toEqual([
        "anthropic",
        "gemini",
        "openai",
      ]);
      expect(JSON.stringify(body)).not.toMatch(/window_start/);
    }
  });
});
