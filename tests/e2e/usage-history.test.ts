import type pg from "pg";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

import { hashPassword } from "@/lib/auth/password";
import { DEMO_ADMIN } from "@/lib/seed/demo";

import { launchChromium, screenshot, signIn } from "../support/browser";
import { rawDb } from "../support/db";
import { DAY_MS, pageWidth, readTable, recordHistory } from "../support/history";

/**
 * Issue 15's charts in Chromium: the dashboard's spend history and the quota modal's, for a user
 * whose history was recorded through the billing library (past days included), read back from the
 * charts' data tables in en and zh, at desktop and phone widths, with the viewer in a zone whose
 * date differs from the quota zone's for part of every day (days stay the quota zone's).
 */
const base = inject("baseURL");
const EMAIL = "e2e-history@example.com";
const PASSWORD = "history-pass-1";
const DESKTOP = { width: 1366, height: 900 };
const PHONE = { width: 390, height: 844 };
let browser: Browser;
let c: pg.Client;
let userId: number;
let today: string;

/** Seeded costs (quota days ago → platform → cost) and what each day's table row must read. */
const SEED = [
  { platform: "anthropic", daysAgo: 3, cost: 2 },
  { platform: "anthropic", daysAgo: 2, cost: 0.125 },
  { platform: "anthropic", daysAgo: 1, cost: 1.25 },
  { platform: "anthropic", daysAgo: 1, cost: 0.5 },
  { platform: "anthropic", daysAgo: 0, cost: 0.5 },
  { platform: "openai", daysAgo: 5, cost: 3 },
  { platform: "openai", daysAgo: 1, cost: 0.333333 },
];
/** days ago → [Claude, OpenAI, Total] as the table shows them (same text in en and zh). */
const ROWS: Record<number, [string, string, string]> = {
  0: ["$0.50", "$0.00", "$0.50"],
  1: ["$1.75", "$0.333333", "$2.083333"],
  2: ["$0.125", "$0.00", "$0.125"],
  3: ["$2.00", "$0.00", "$2.00"],
  5: ["$0.00", "$3.00", "$3.00"],
};
const ZERO_ROW = ["$0.00", "$0.00", "$0.00"];

const T = {
  en: {
    zone: "Days are calendar days in Asia/Shanghai",
    show: "Show the data as a table",
    day: "Day",
    all: "All platforms",
  },
  zh: { zone: "日期按配额时区 Asia/Shanghai 的自然日划分", show: "以表格查看数据", day: "日期", all: "全部平台" },
};
const TOTAL = { en: "Total", zh: "合计" };

beforeAll(async () => {
  browser = await launchChromium();
  c = await rawDb();
  const u = await c.query("INSERT INTO users (email, password_hash) VALUES ($1, $2) RETURNING id", [
    EMAIL,
    await hashPassword(PASSWORD),
  ]);
  userId = Number(u.rows[0].id);
  await c.query(
    `INSERT INTO user_platform_quotas (user_id, platform, daily_limit_usd, weekly_limit_usd, monthly_limit_usd) VALUES
       ($1, 'anthropic', 5, 20, NULL), ($1, 'openai', NULL, NULL, 10)`,
    [userId],
  );
  today = await recordHistory(userId, SEED);
});
afterAll(async () => {
  await browser?.close();
  await c.query("DELETE FROM usage_rollup_hourly WHERE user_id = $1", [userId]);
  await c.query("DELETE FROM usage_rollup_daily WHERE user_id = $1", [userId]);
  await c.query("DELETE FROM users WHERE id = $1", [userId]);
  await c.end();
});

async function newPage(locale: "en" | "zh", viewport: typeof DESKTOP, timezoneId: string): Promise<Page> {
  const ctx = await browser.newContext({ locale: locale === "zh" ? "zh-CN" : "en-US", viewport, timezoneId });
  return ctx.newPage();
}

/** The quota day `k` days before `today` as the table's row header shows it (a calendar date). */
function rowHeader(k: number, locale: "en" | "zh"): string {
  const [y, m, d] = today.split("-").map(Number);
  return new Intl.DateTimeFormat(locale, {
    weekday: "short",
    year: "numeric",
    month: "short",
    day: "numeric",
    timeZone: "UTC",
  }).format(Date.UTC(y, m - 1, d) - k * DAY_MS);
}

/** Opens the table under `root`, then checks every one of its 30 rows against the seed. */
async function checkTable(root: ReturnType<Page["locator"]>, locale: "en" | "zh") {
  await root.getByText(T[locale].show).click();
  const { head, rows } = await readTable(root.getByTestId("history-table"));
  expect(head).toEqual([T[locale].day, "Claude", "OpenAI", TOTAL[locale]]);
  expect(rows).toHaveLength(30);
  rows.forEach((r, i) => {
    const k = 29 - i;
    expect(r, `row of ${k} days ago`).toEqual([rowHeader(k, locale), ...(ROWS[k] ?? ZERO_ROW)]);
  });
}

/** uPlot's legend labels: what the chart draws. */
const legend = (root: ReturnType<Page["locator"]>) =>
  root
    .locator(".u-legend .u-series .u-label")
    .evaluateAll((els) => els.map((e) => e.textContent ?? ""))
    .then((labels) => labels.slice(1)); // the first is the x series (the hovered day)

describe("spend history chart", () => {
  for (const [locale, tz] of [
    ["en", "Pacific/Kiritimati"],
    ["zh", "America/Los_Angeles"],
  ] as const) {
    for (const [size, viewport] of [
      ["desktop", DESKTOP],
      ["phone", PHONE],
    ] as const) {
      it(`dashboard, ${locale}, ${size}: the table holds the recorded costs per quota day, the chart draws them with the limits, the projection`, async () => {
        const page = await newPage(locale, viewport, tz);
        await page.goto(`${base}/${locale}/sign-in`);
        await signIn(page, EMAIL, PASSWORD);
        await page.waitForURL(`${base}/${locale}/dashboard`);
        const panel = page.getByTestId("usage-history");
        await panel.waitFor();
        expect(await panel.getByTestId("history-zone").textContent()).toContain(T[locale].zone);
        await checkTable(panel, locale);

        // The chart: a canvas inside the labelled image, every platform's daily spend and the daily limit.
        const chart = panel.getByTestId("history-chart");
        expect(await chart.getAttribute("role")).toBe("img");
        const canvas = await chart.locator("canvas").boundingBox();
        expect(canvas!.width).toBeGreaterThan(200);
        expect(canvas!.width).toBeLessThanOrEqual(viewport.width);
        const names =
          locale === "en"
            ? ["Claude daily spend", "Claude daily limit", "OpenAI daily spend"]
            : ["Claude 每日消费", "Claude 日限额", "OpenAI 每日消费"];
        expect(await legend(chart)).toEqual(names);
        // One platform: its weekly and 30-day windows too, as spend so far against the limit.
        await panel.getByRole("button", { name: "OpenAI", exact: true }).click();
        expect(await legend(chart)).toEqual(
          locale === "en"
            ? ["OpenAI daily spend", "OpenAI spend in the 30-day window", "OpenAI 30-day limit"]
            : ["OpenAI 每日消费", "OpenAI 30天窗口累计消费", "OpenAI 30天限额"],
        );

        // The projection: 30-day cap 10, used 3.333333, rate 3.333333 / 7 a day → reached in 14 days,
        // before the window (started 5 days ago) resets; Claude's daily and weekly caps outlast their windows.
        const reach = panel.locator('[data-projection="openai-monthly"]');
        expect(await reach.getAttribute("data-kind")).toBe("reaches");
        const on = new Intl.DateTimeFormat(locale, { month: "short", day: "numeric", timeZone: tz }).format(
          Date.now() + ((10 - 3.333333) / (3.333333 / 7)) * DAY_MS,
        );
        const text = (await reach.textContent()) ?? "";
        if (locale === "en") expect(text).toMatch(/^At this rate you reach your 30-day cap on OpenAI \(\$10\.00\) on /);
        else expect(text).toMatch(/^按当前速度，您将在 .+ 达到 OpenAI 的30天限额（\$10\.00）。$/);
        expect(text).toContain(on);
        expect(await panel.locator('[data-projection="anthropic-daily"]').getAttribute("data-kind")).toBe(
          "resetsFirst",
        );
        expect(await panel.locator('[data-projection="anthropic-weekly"]').getAttribute("data-kind")).toBe(
          "resetsFirst",
        );
        expect(await pageWidth(page)).toBe(viewport.width);
        await screenshot(page, `usage-history-dashboard-${locale}-${size}`);
        await page.context().close();
      });
    }
  }

  for (const [locale, size, viewport] of [
    ["en", "desktop", DESKTOP],
    ["zh", "phone", PHONE],
  ] as const) {
    it(`quota modal, ${locale}, ${size}: the same table for that user through the admin API`, async () => {
      const page = await newPage(locale, viewport, "Europe/Berlin");
      await page.goto(`${base}/${locale}/sign-in`);
      await signIn(page, DEMO_ADMIN.email, DEMO_ADMIN.password);
      await page.waitForURL(`${base}/${locale}/dashboard`);
      await page.goto(`${base}/${locale}/admin/users?q=e2e-history`);
      await page
        .getByRole("button", { name: locale === "en" ? `Platform quotas of ${EMAIL}` : `${EMAIL} 的平台限额` })
        .click();
      const dialog = page.getByRole("dialog");
      await dialog.getByTestId("modal-history").locator("summary").click();
      const panel = dialog.getByTestId("usage-history");
      await panel.waitFor();
      await checkTable(panel, locale);
      const reach = panel.locator('[data-projection="openai-monthly"]');
      expect(await reach.getAttribute("data-kind")).toBe("reaches");
      expect(await reach.textContent()).toMatch(
        locale === "en" ? /^At this rate this user reaches the 30-day cap on OpenAI/ : /^按当前速度，该用户将在 /,
      );
      expect(await pageWidth(page)).toBe(viewport.width);
      await screenshot(page, `usage-history-modal-${locale}-${size}`);
      await page.context().close();
    });
  }

  it("the history API answers only the session's own data, and admins' routes refuse a user", async () => {
    const { sessionCookieFor } = await import("../support/session");
    const cookie = await sessionCookieFor(EMAIL);
    const own = await (
      await fetch(`${base}/api/v1/user/usage-history?days=30&user_id=1`, { headers: { Cookie: cookie } })
    ).json();
    expect(own.code).toBe(0);
    expect(own.data.days.at(-1)).toBe(today);
    expect(own.data.usage.map((u: { platform: string }) => u.platform).sort()).toEqual([
      "anthropic",
      "anthropic",
      "anthropic",
      "anthropic",
      "openai",
      "openai",
    ]);
    const admin = await fetch(`${base}/api/v1/admin/users/${userId}/usage-history`, { headers: { Cookie: cookie } });
    expect(admin.status).toBe(403);
  });
});
