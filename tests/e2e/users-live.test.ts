import { spawn } from "node:child_process";
import type pg from "pg";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

import { QuotaClock } from "@/lib/billing/windows";
import { DEMO_ADMIN } from "@/lib/seed/demo";

import { launchChromium, screenshot, signIn } from "../support/browser";
import { rawDb } from "../support/db";
import { sessionCookieFor } from "../support/session";

/**
 * The admin users list (issue 13 #2–4): its quota column moves without a reload while the gateway
 * simulator records usage (polled every 10 s, time zone named), the quota sorts come from the URL,
 * and on a 390×844 phone the page never widens, table headers and nav items never wrap one
 * character per line (zh and en, 360–1920 px).
 */
const base = inject("baseURL");
let browser: Browser;
let c: pg.Client;
const run = Date.now();
const live = `live-${run}@example.com`;
const near = `sort-near-${run}@example.com`;
const far = `sort-far-${run}@example.com`;
const ids: number[] = [];

async function adminPage(locale: "en" | "zh", viewport = { width: 1366, height: 900 }): Promise<Page> {
  const ctx = await browser.newContext({
    locale: locale === "zh" ? "zh-CN" : "en-US",
    timezoneId: "America/Los_Angeles",
    viewport,
  });
  const page = await ctx.newPage();
  await page.goto(`${base}/${locale}/sign-in`);
  await signIn(page, DEMO_ADMIN.email, DEMO_ADMIN.password);
  await page.waitForURL(`${base}/${locale}/dashboard`);
  return page;
}

async function userWith(email: string, daily: number, used: number) {
  const id = Number(
    (await c.query("INSERT INTO users (email, password_hash) VALUES ($1, 'x') RETURNING id", [email])).rows[0].id,
  );
  ids.push(id);
  await c.query(
    `INSERT INTO user_platform_quotas (user_id, platform, daily_limit_usd, daily_usage_usd, daily_window_start)
     VALUES ($1, 'anthropic', $2, $3, now())`,
    [id, daily, used],
  );
  return id;
}

beforeAll(async () => {
  browser = await launchChromium();
  c = await rawDb();
  await userWith(live, 50, 0);
  // Mixed magnitudes: 9 of 10 (90 %) is closer to its cap than 40 of 1000 (4 %), and spent less today.
  await userWith(near, 10, 9);
  await userWith(far, 1000, 40);
});
afterAll(async () => {
  if (ids.length) await c.query("DELETE FROM users WHERE id = ANY($1::bigint[])", [ids]);
  await browser?.close();
  await c.end();
});

/**
 * Elements of `selector` whose text breaks into lines of one character, or a short label that breaks
 * at all (zh wrapped per character: "普通/用户", "禁/用"), measured per character from the layout —
 * a cell's own height is its row's.
 */
const wrapped = (page: Page, selector: string) =>
  page.evaluate((sel) => {
    const out: string[] = [];
    for (const e of document.querySelectorAll<HTMLElement>(sel)) {
      if (e.offsetParent === null) continue;
      const lines = new Map<number, number>();
      const walker = document.createTreeWalker(e, NodeFilter.SHOW_TEXT);
      for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        const text = n.textContent ?? "";
        for (let i = 0; i < text.length; i++) {
          if (/\s/.test(text[i])) continue;
          const r = document.createRange();
          r.setStart(n, i);
          r.setEnd(n, i + 1);
          const rect = r.getBoundingClientRect();
          if (rect.width === 0) continue; // visually hidden
          const top = Math.round(rect.top);
          lines.set(top, (lines.get(top) ?? 0) + 1);
        }
      }
      const chars = [...lines.values()].reduce((a, b) => a + b, 0);
      // A short label ("普通用户", "禁用") on more than one line, or any line of one character.
      if (lines.size >= 2 && (chars <= 6 || Math.min(...lines.values()) === 1))
        out.push(`${e.tagName.toLowerCase()} "${(e.textContent ?? "").trim()}": ${lines.size} lines`);
    }
    return out;
  }, selector);

describe("admin users list", () => {
  it("en: a quota cell moves without a reload while the simulator runs; the time zone is named", async () => {
    const page = await adminPage("en");
    await page.goto(`${base}/en/admin/users?q=${encodeURIComponent(live)}`);
    const cell = page.locator('[data-testid="quota-cell"] .quota-grid > div', { hasText: /^Claude/ });
    expect(await cell.textContent()).toBe("Claudedaily 0/50weekly 0/—monthly 0/—");
    expect(await page.getByTestId("quota-updated").textContent()).toMatch(
      /^Times in America\/Los_Angeles · quota usage as of \d\d:\d\d:\d\d [AP]M, refreshed every 10 s$/,
    );
    // A marker on the window: a reload would drop it.
    await page.evaluate(() => ((window as unknown as { qcMarker: number }).qcMarker = 1));
    const sim = spawn(
      "node_modules/.bin/tsx",
      [
        "scripts/simulate.ts",
        ...["--email", live, "--platforms", "anthropic", "--rate", "5", "--duration", "3"],
        ...["--cost-min", "0.5", "--cost-max", "1", "--json"],
      ],
      { env: process.env, stdio: "ignore" },
    );
    const done = new Promise((r) => sim.once("exit", r));
    // Within the 10 s refresh (plus the simulator's start-up): the poll fails otherwise.
    await expect
      .poll(async () => (await cell.textContent()) ?? "", { timeout: 20_000, interval: 500 })
      .toMatch(/^Claudedaily (?!0\/)[\d.]+\/50weekly [\d.]+\/—monthly [\d.]+\/—$/);
    await done;
    expect(await page.evaluate(() => (window as unknown as { qcMarker?: number }).qcMarker)).toBe(1);
    // The row's 7-day sparkline (issue 15), server-rendered on a reload: its text alternative names
    // today's spend, which is what the simulator's requests recorded in the usage history today
    // (quota day: the server's QUOTA_TIMEZONE).
    await page.reload();
    await page.locator('[data-testid^="user-row-"]').first().waitFor(); // past the loading skeleton
    const clock = new QuotaClock(process.env.QUOTA_TIMEZONE || "Asia/Shanghai");
    const { rows } = await c.query<{ cost: string }>(
      `SELECT round(coalesce(sum(h.cost), 0), 2)::text AS cost FROM usage_rollup_hourly h JOIN users u ON u.id = h.user_id
       WHERE u.email = $1 AND h.bucket_start >= $2`,
      [live, new Date(clock.startOfDay(Date.now()))],
    );
    expect(Number(rows[0].cost)).toBeGreaterThan(0);
    const label = await page.locator('[data-testid^="user-row-"] svg.spark[role="img"]').getAttribute("aria-label");
    expect(label).toMatch(
      new RegExp(
        `^Spend per day \\(${clock.timeZone.replace("/", "\\/")} days\\): (\\w+ \\d+ \\$[\\d.]+, ){6}\\w+ \\d+ \\$${rows[0].cost.replace(".", "\\.")}$`,
      ),
    );
    await screenshot(page, "admin-users-live-en-desktop");
    await page.context().close();
  });

  it("the poll endpoint is admin-only and answers only what the cell draws", async () => {
    const url = `${base}/api/v1/admin/users/quota-cells?ids=${ids.join(",")}`;
    expect((await fetch(url)).status).toBe(401);
    const asUser = await fetch(url, { headers: { Cookie: await sessionCookieFor("alice@example.com") } });
    expect(asUser.status).toBe(403);
    const admin = { headers: { Cookie: await sessionCookieFor(DEMO_ADMIN.email) } };
    const body = await (await fetch(url, admin)).json();
    expect(body.data.cells[String(ids[1])]).toEqual([{ p: "anthropic", d: [9, 10], w: [0, null], m: [0, null] }]);
    expect((await fetch(`${base}/api/v1/admin/users/quota-cells?ids=1,x`, admin)).status).toBe(400);
  });

  it("en: closest to a cap and spend today sort numerically, from the URL and the form", async () => {
    const page = await adminPage("en");
    await page.goto(`${base}/en/admin/users?q=sort-`);
    await page.getByLabel("Sort by", { exact: true }).selectOption("cap");
    await page.getByRole("button", { name: "Apply" }).click();
    await page.waitForURL(/sort=cap/);
    const emails = () =>
      page.locator('tbody tr[data-testid^="user-row-"] td:first-child > div:first-child').allTextContents();
    const mine = (all: string[]) => all.filter((e) => e.endsWith(`-${run}@example.com`));
    expect(mine(await emails())).toEqual([near, far]);
    await page.goto(`${base}/en/admin/users?q=sort-&sort=spend_day&dir=desc`);
    expect(mine(await emails())).toEqual([far, near]);
    await page.context().close();
  });

  it.each(["en", "zh"] as const)(
    "%s on a 390×844 phone: the page is exactly as wide as the screen; the table scrolls in its box",
    async (locale) => {
      const page = await adminPage(locale, { width: 390, height: 844 });
      await page.goto(`${base}/${locale}/admin/users`);
      await page.locator('[data-testid^="user-row-"]').first().waitFor(); // past the loading skeleton
      const wide = await page.evaluate(() =>
        [...document.querySelectorAll("body *")]
          .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 0.5 && !e.closest(".overflow-x-auto"))
          .map((e) => `${e.tagName.toLowerCase()}.${e.className}`),
      );
      expect(wide).toEqual([]);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBe(390);
      await screenshot(page, `admin-users-${locale}-phone`);
      await page.context().close();
    },
  );

  it("zh and en: no table header or nav item renders one character per line, from 360 to 1920 px", async () => {
    for (const locale of ["zh", "en"] as const) {
      const page = await adminPage(locale, { width: 360, height: 800 });
      for (const width of [360, 390, 768, 1024, 1366, 1920]) {
        await page.setViewportSize({ width, height: 900 });
        for (const path of ["/admin/users", "/admin/settings", "/admin/audit", "/admin/cache", "/dashboard"]) {
          await page.goto(`${base}/${locale}${path}`);
          expect({
            width,
            path,
            wrapped: await wrapped(
              page,
              'th, nav a, nav span, [data-testid^="user-row-"] td:is(:nth-child(2), :nth-child(3), :nth-child(4))',
            ),
          }).toEqual({
            width,
            path,
            wrapped: [],
          });
        }
      }
      await page.context().close();
    }
  });

  it("small items (#7): placeholders read at >= 4.5:1; switching a grant off keeps its panel open; the demo's alice has limits", async () => {
    const page = await adminPage("en");
    await page.goto(`${base}/en/admin/settings`);
    const contrast = await page.locator('[data-cell="system.anthropic.daily"]').evaluate((input) => {
      // Colours as the browser resolves them (Tailwind 4 writes oklch()): painted, then read back.
      const ctx = document.createElement("canvas").getContext("2d")!;
      const lum = (c: string) => {
        ctx.clearRect(0, 0, 1, 1);
        ctx.fillStyle = "#fff";
        ctx.fillRect(0, 0, 1, 1);
        ctx.fillStyle = c;
        ctx.fillRect(0, 0, 1, 1);
        const [r, g, b] = [...ctx.getImageData(0, 0, 1, 1).data].slice(0, 3).map((v) => {
          const x = v / 255;
          return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
        });
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
      };
      const fg = lum(getComputedStyle(input, "::placeholder").color);
      const bg = lum(getComputedStyle(input).backgroundColor);
      return (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    });
    expect(contrast).toBeGreaterThanOrEqual(4.5);
    const github = page.locator('details[data-source="github"]');
    await github.locator("summary").click();
    const sw = github.getByRole("switch");
    await sw.check();
    await sw.uncheck();
    expect(await github.evaluate((d) => (d as HTMLDetailsElement).open)).toBe(true);
    // The README's `npm run simulate -- --email alice@example.com` moves a capped user.
    await page.goto(`${base}/en/admin/users?q=alice%40example.com`);
    const alice = page.locator('[data-testid="quota-cell"] .quota-grid > div', { hasText: /^Claude/ });
    expect(await alice.textContent()).toMatch(/^Claudedaily [\d.]+\/5weekly [\d.]+\/20monthly [\d.]+\/60$/);
    await page.context().close();
  });
});
