import type pg from "pg";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

import { DEMO_ADMIN } from "@/lib/seed/demo";

import { launchChromium, screenshot, signIn } from "../support/browser";
import { rawDb } from "../support/db";
import { downsample, pageWidth, readTable, recordHistory } from "../support/history";
import { sessionCookieFor } from "../support/session";

/**
 * The admin overview page (issue 15) in Chromium: every user's spend per platform and quota day
 * (the table must hold exactly what the admin history API answers, and the costs this test
 * recorded on DeepSeek, which no other test uses), the top spenders and the users near a cap, and
 * the honest "not available" for blocked requests per day; en and zh, desktop and phone; admin only.
 */
const base = inject("baseURL");
const A = "e2e-ov-a@example.com";
const B = "e2e-ov-b@example.com";
let browser: Browser;
let c: pg.Client;
let ids: number[] = [];

beforeAll(async () => {
  browser = await launchChromium();
  c = await rawDb();
  const { rows } = await c.query(
    "INSERT INTO users (email, password_hash) SELECT unnest($1::text[]), 'x' RETURNING id, email",
    [[A, B]],
  );
  const id = (e: string) => Number(rows.find((r) => r.email === e).id);
  ids = [id(A), id(B)];
  // B: 90 % of a $1 daily DeepSeek limit today; A: the larger spender, no limit.
  await c.query(
    `INSERT INTO user_platform_quotas (user_id, platform, daily_limit_usd, monthly_limit_usd) VALUES
       ($1, 'deepseek', NULL, NULL), ($2, 'deepseek', 1, NULL)`,
    ids,
  );
  await recordHistory(ids[0], [
    { platform: "deepseek", daysAgo: 2, cost: 7 },
    { platform: "deepseek", daysAgo: 1, cost: 0.125 },
    { platform: "deepseek", daysAgo: 0, cost: 2.5 },
  ]);
  await recordHistory(ids[1], [
    { platform: "deepseek", daysAgo: 1, cost: 0.25 },
    { platform: "deepseek", daysAgo: 0, cost: 0.9 },
  ]);
  await downsample();
});
afterAll(async () => {
  await browser?.close();
  await c.query("DELETE FROM usage_rollup_hourly WHERE user_id = ANY($1::bigint[])", [ids]);
  await c.query("DELETE FROM usage_rollup_daily WHERE user_id = ANY($1::bigint[])", [ids]);
  await c.query("DELETE FROM users WHERE id = ANY($1::bigint[])", [ids]);
  await c.end();
});

const L = {
  en: {
    show: "Show the data as a table",
    zone: "Days are calendar days in Asia/Shanghai",
    nav: "Overview",
    near: ["$0.90 of $1.00", "90%", "DeepSeek", "Daily"],
    blocked: /^Not available: nothing records blocked requests per day\./,
  },
  zh: {
    show: "以表格查看数据",
    zone: "日期按配额时区 Asia/Shanghai 的自然日划分",
    nav: "用量概览",
    near: ["$0.90 / $1.00", "90%", "DeepSeek", "日"],
    blocked: /^暂无数据：目前没有任何地方按天记录被拒绝的请求。/,
  },
};

describe("admin usage overview", () => {
  for (const [locale, size, viewport] of [
    ["en", "desktop", { width: 1366, height: 900 }],
    ["zh", "desktop", { width: 1366, height: 900 }],
    ["en", "phone", { width: 390, height: 844 }],
    ["zh", "phone", { width: 390, height: 844 }],
  ] as const) {
    it(`${locale}, ${size}: the per-day table equals the admin API, the seeded costs are in it, top users, near a cap, blocked`, async () => {
      const ctx = await browser.newContext({
        locale: locale === "zh" ? "zh-CN" : "en-US",
        viewport,
        timezoneId: "Pacific/Kiritimati",
      });
      const page = await ctx.newPage();
      await page.goto(`${base}/${locale}/sign-in`);
      await signIn(page, DEMO_ADMIN.email, DEMO_ADMIN.password);
      await page.waitForURL(`${base}/${locale}/dashboard`);
      await page.getByTestId("admin-menu").getByRole("link", { name: L[locale].nav }).click();
      await page.waitForURL(`${base}/${locale}/admin/overview`);
      expect(await page.getByTestId("overview-zone").textContent()).toContain(L[locale].zone);

      // What the API answers, summed per day × platform by the test (exact: cents of cents in integers).
      const api = await (
        await fetch(`${base}/api/v1/admin/usage-history?days=30`, {
          headers: { Cookie: await sessionCookieFor(DEMO_ADMIN.email) },
        })
      ).json();
      const days: string[] = api.data.days;
      const cell = (day: string, platform: string) =>
        api.data.usage
          .filter((u: { day: string; platform: string }) => u.day === day && u.platform === platform)
          .reduce((s: number, u: { cost: string }) => s + Math.round(Number(u.cost) * 1e6), 0) / 1e6;

      await page.getByText(L[locale].show).click();
      const { head, rows } = await readTable(page.getByTestId("overview-table"));
      expect(rows).toHaveLength(30);
      const col = head.indexOf("DeepSeek");
      expect(col).toBeGreaterThan(0);
      const money = (n: number) =>
        new Intl.NumberFormat(locale, {
          style: "currency",
          currency: "USD",
          currencyDisplay: "narrowSymbol",
          minimumFractionDigits: 2,
          maximumFractionDigits: 6,
        }).format(n);
      // Every platform column of every day is the API's value; DeepSeek's last three days are the seed.
      const platforms: string[] = [...new Set<string>(api.data.usage.map((u: { platform: string }) => u.platform))];
      expect(head.length).toBe(2 + platforms.filter((p) => days.some((d) => cell(d, p) !== 0)).length);
      rows.forEach((r, i) => {
        expect(r[col], days[i]).toBe(money(cell(days[i], "deepseek")));
      });
      // No other test records DeepSeek: the last three days are the seed's sums exactly.
      expect(rows.slice(-3).map((r) => r[col])).toEqual([money(7), money(0.375), money(3.4)]);
      // The chart drew one line per platform with spend.
      const canvas = await page.getByTestId("overview-chart").locator("canvas").boundingBox();
      expect(canvas!.width).toBeGreaterThan(200);

      // Top users: A (9.625 in its 30-day window) above B (1.15); today's spend beside it.
      const top = (await readTable(page.getByTestId("overview-top"))).rows;
      const ia = top.findIndex((r) => r[0] === A);
      const ib = top.findIndex((r) => r[0] === B);
      expect(ia).toBeGreaterThanOrEqual(0);
      expect(ib).toBeGreaterThan(ia);
      expect(top[ia].slice(1)).toEqual(["$9.63", "$2.50"]);
      expect(top[ib].slice(1)).toEqual(["$1.15", "$0.90"]);
      // Near a cap: B at 90 % of its daily DeepSeek limit; A has no limit.
      const near = (await readTable(page.getByTestId("overview-near"))).rows;
      const nb = near.find((r) => r[0] === B);
      expect(nb).toEqual([B, L[locale].near[2], L[locale].near[3], L[locale].near[0], L[locale].near[1]]);
      expect(near.some((r) => r[0] === A)).toBe(false);
      expect(await page.getByTestId("blocked-unavailable").textContent()).toMatch(L[locale].blocked);
      await screenshot(page, `usage-overview-${locale}-${size}`);
      expect(await pageWidth(page)).toBe(viewport.width);
      await ctx.close();
    });
  }

  it("a signed-in user gets 403 for the page, an anonymous visitor the sign-in page", async () => {
    const user = await sessionCookieFor(A);
    const res = await fetch(`${base}/en/admin/overview`, { headers: { Cookie: user }, redirect: "manual" });
    expect(res.status).toBe(403);
    const anon = await fetch(`${base}/en/admin/overview`, { redirect: "manual" });
    expect(anon.status).toBe(307);
    expect(anon.headers.get("location")).toContain("/en/sign-in");
  });
});
