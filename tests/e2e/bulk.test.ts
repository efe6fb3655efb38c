import type pg from "pg";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

import { DEMO_ADMIN } from "@/lib/seed/demo";

import { launchChromium, screenshot, signIn } from "../support/browser";
import { rawDb } from "../support/db";

/**
 * The bulk page in Chromium (issue 16), en and zh: filter → preview → apply → progress → undo of
 * the whole operation, checked against the database; the zh run at phone width (390 × 844) must not
 * scroll sideways.
 */
const base = inject("baseURL");
let browser: Browser;
let c: pg.Client;
const created: number[] = [];

async function adminPage(locale: "en" | "zh", viewport: { width: number; height: number }): Promise<Page> {
  const ctx = await browser.newContext({ locale: locale === "zh" ? "zh-CN" : "en-US", viewport });
  const page = await ctx.newPage();
  await page.goto(`${base}/${locale}/sign-in`);
  await signIn(page, DEMO_ADMIN.email, DEMO_ADMIN.password);
  await page.waitForURL(`${base}/${locale}/dashboard`);
  return page;
}

async function tagged(n: number): Promise<{ tag: string; ids: number[] }> {
  const tag = `bulke2e${Date.now().toString(36)}`;
  const { rows } = await c.query<{ id: string }>(
    `INSERT INTO users (email, password_hash) SELECT $1 || '-' || g || '@bulk.test', 'x' FROM generate_series(1, $2) g RETURNING id`,
    [tag, n],
  );
  const ids = rows.map((r) => Number(r.id));
  created.push(...ids);
  return { tag, ids };
}

const dailyOf = async (ids: number[], platform: string) =>
  (
    await c.query<{ d: string | null }>(
      `SELECT daily_limit_usd::text AS d FROM user_platform_quotas WHERE user_id = ANY($1::bigint[]) AND platform = $2
       AND deleted_at IS NULL ORDER BY user_id`,
      [ids, platform],
    )
  ).rows.map((r) => r.d);

beforeAll(async () => {
  browser = await launchChromium();
  c = await rawDb();
});
afterAll(async () => {
  if (created.length) {
    await c.query("DELETE FROM user_platform_quotas WHERE user_id = ANY($1::bigint[])", [created]);
    await c.query("DELETE FROM users WHERE id = ANY($1::bigint[])", [created]);
  }
  await browser?.close();
  await c.end();
});

const cases = [
  {
    locale: "en" as const,
    viewport: { width: 1366, height: 900 },
    heading: "Bulk operations",
    summary: "3 users selected; 3 users and 3 cells would change.",
    apply: "Apply to 3 users",
    done: "Done",
    undo: "Undo",
  },
  {
    locale: "zh" as const,
    viewport: { width: 390, height: 844 },
    heading: "批量操作",
    summary: "已选 3 个用户；将变更 3 个用户的 3 项。",
    apply: "应用到 3 个用户",
    done: "已完成",
    undo: "撤销",
  },
];

describe("bulk operations page", () => {
  it.each(cases)("$locale: filter → preview → apply → progress → undo", async (k) => {
    const { tag, ids } = await tagged(3);
    const page = await adminPage(k.locale, k.viewport);
    await page.goto(`${base}/${k.locale}/admin/bulk`);
    expect(await page.getByRole("heading", { level: 1 }).textContent()).toBe(k.heading);
    await page.getByTestId("bulk-q").fill(tag);
    await page.getByTestId("bulk-usd").fill("7.5");
    await page.getByTestId("bulk-preview").click();
    await expect.poll(() => page.getByTestId("bulk-preview-summary").textContent()).toBe(k.summary);
    expect(await dailyOf(ids, "anthropic")).toEqual([]); // a preview writes nothing
    const apply = page.getByTestId("bulk-apply");
    expect(await apply.textContent()).toBe(k.apply);
    await apply.click();
    await expect.poll(() => page.getByTestId("bulk-job-status").textContent(), { timeout: 20_000 }).toContain(k.done);
    expect(await page.getByRole("progressbar").getAttribute("aria-valuenow")).toBe("3");
    expect(await dailyOf(ids, "anthropic")).toEqual(["7.5000000000", "7.5000000000", "7.5000000000"]);
    const scrollX = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(scrollX).toBeLessThanOrEqual(0);
    await screenshot(page, `bulk-${k.locale}-done`);

    await page.getByTestId("bulk-undo").click();
    // The panel now follows the undo job ("Operation #N: Undo" / "操作 #N：撤销") until it is done.
    await expect
      .poll(() => page.getByTestId("bulk-job").textContent(), { timeout: 20_000 })
      .toMatch(new RegExp(`#\\d+[:：] ?${k.undo}.*${k.done}`));
    expect(await dailyOf(ids, "anthropic")).toEqual([]); // the rows the operation created are gone again
    const undo = await c.query<{ action: string }>(
      "SELECT action FROM console_audit_logs WHERE target_type = 'bulk' ORDER BY id DESC LIMIT 2",
    );
    expect(undo.rows.map((r) => r.action)).toEqual(["bulk.undo", "bulk.apply"]);
    await screenshot(page, `bulk-${k.locale}-undone`);
    await page.context().close();
  });

  it("a stale preview is refused with a translated message, and nothing is applied", async () => {
    const { tag, ids } = await tagged(2);
    const page = await adminPage("en", { width: 1366, height: 900 });
    await page.goto(`${base}/en/admin/bulk`);
    await page.getByTestId("bulk-q").fill(tag);
    await page.getByTestId("bulk-preview").click();
    await expect.poll(() => page.getByTestId("bulk-preview-summary").textContent()).toContain("2 users selected");
    await c
      .query("INSERT INTO users (email, password_hash) VALUES ($1, 'x') RETURNING id", [`${tag}-late@bulk.test`])
      .then((r) => created.push(Number(r.rows[0].id)));
    await page.getByTestId("bulk-apply").click();
    await expect
      .poll(() => page.getByTestId("bulk-panel").getByRole("alert").textContent())
      .toBe("The users or their limits changed since the preview. Preview again, then apply.");
    expect(await dailyOf(ids, "anthropic")).toEqual([]);
    await page.context().close();
  });
});
