import fs from "node:fs";
import type pg from "pg";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

import { DEMO_ADMIN } from "@/lib/seed/demo";

import { launchChromium, screenshot, signIn } from "../support/browser";
import { rawDb } from "../support/db";

/**
 * The import / export page in Chromium: a limits CSV with good and bad lines is checked (every bad
 * line listed with its reason, nothing written), applied after the confirmation as a bulk job whose
 * progress the page follows, and exported again; a defaults JSON is exported, edited, checked and
 * applied — in en on a desktop and in zh on a phone.
 */
const base = inject("baseURL");
const PREFIX = `e2e-xfer-${process.pid}`;
let browser: Browser;
let c: pg.Client;
let ids: number[] = [];
let emails: string[] = [];
let savedDefaults: string | null = null;

async function adminPage(locale: "en" | "zh", viewport: { width: number; height: number }): Promise<Page> {
  const ctx = await browser.newContext({
    locale: locale === "zh" ? "zh-CN" : "en-US",
    viewport,
    acceptDownloads: true,
  });
  const page = await ctx.newPage();
  await page.goto(`${base}/${locale}/sign-in`);
  await signIn(page, DEMO_ADMIN.email, DEMO_ADMIN.password);
  await page.waitForURL(`${base}/${locale}/dashboard`);
  await page.goto(`${base}/${locale}/admin/transfer`);
  return page;
}

async function limits(userId: number, platform: string) {
  const { rows } = await c.query(
    `SELECT daily_limit_usd::text AS d, weekly_limit_usd::text AS w, monthly_limit_usd::text AS m
     FROM user_platform_quotas WHERE user_id = $1 AND platform = $2 AND deleted_at IS NULL`,
    [userId, platform],
  );
  return rows[0] ?? null;
}

beforeAll(async () => {
  browser = await launchChromium();
  c = await rawDb();
  const { rows } = await c.query<{ id: string; email: string }>(
    `INSERT INTO users (email, password_hash) SELECT $1 || '-' || g || '@example.test', 'x' FROM generate_series(1, 2) g
     RETURNING id::text, email`,
    [PREFIX],
  );
  ids = rows.map((r) => Number(r.id));
  emails = rows.map((r) => r.email);
  await c.query(
    `INSERT INTO user_platform_quotas (user_id, platform, daily_limit_usd) VALUES ($1, 'anthropic', 10), ($2, 'openai', 5)`,
    ids,
  );
  const d = await c.query("SELECT value FROM settings WHERE key = 'default_platform_quotas'");
  savedDefaults = d.rows[0]?.value ?? null;
});
afterAll(async () => {
  if (savedDefaults === null) await c.query("DELETE FROM settings WHERE key = 'default_platform_quotas'");
  else await c.query("UPDATE settings SET value = $1 WHERE key = 'default_platform_quotas'", [savedDefaults]);
  if (ids.length) {
    await c.query("DELETE FROM user_platform_quotas WHERE user_id = ANY($1::bigint[])", [ids]);
    await c.query("DELETE FROM users WHERE id = ANY($1::bigint[])", [ids]);
  }
  await browser?.close();
  await c.end();
});

describe("import / export page", () => {
  it("en, desktop: check a CSV (bad lines listed, nothing written), apply it, follow the job, export again", async () => {
    const page = await adminPage("en", { width: 1366, height: 900 });
    const csv = [
      "user_id,email,platform,daily_limit_usd,weekly_limit_usd,monthly_limit_usd",
      `${ids[0]},${emails[0]},anthropic,12.5,,`,
      `${ids[1]},${emails[1]},openai,0,,100`,
      `,nobody-${PREFIX}@example.test,openai,1,,`,
      `${ids[0]},${emails[0]},anthropic2,1,,`,
      `${ids[1]},${emails[1]},gemini,ten,,`,
      "",
    ].join("\n");
    await page
      .getByTestId("limits-file")
      .setInputFiles({ name: "limits.csv", mimeType: "text/csv", buffer: Buffer.from(csv) });
    await page.getByTestId("limits-check").click();
    await expect
      .poll(() => page.getByTestId("limits-summary").textContent())
      .toBe("5 lines read: 2 good, 3 with problems.");
    const problems = await page.getByTestId("limits-problems").locator("tbody tr").allTextContents();
    expect(problems).toEqual([
      `Line 4No such user: nobody-${PREFIX}@example.test.`,
      "Line 5Unknown platform: anthropic2.",
      "Line 6Not a plain number (e.g. 10 or 0.5; empty = unlimited): ten.",
    ]);
    expect(await page.getByTestId("limits-changes").textContent()).toBe("2 users would change, 3 limits in all.");
    expect(await limits(ids[0], "anthropic")).toEqual({ d: "10.0000000000", w: null, m: null }); // nothing written yet
    await screenshot(page, "transfer-en-desktop-check");

    await page.getByTestId("limits-apply").click();
    await page.getByRole("alertdialog").getByRole("button", { name: "Apply" }).click();
    await expect
      .poll(() => page.getByTestId("limits-job-state").getAttribute("data-state"), { timeout: 20_000 })
      .toBe("done");
    expect(await page.getByTestId("limits-job-state").textContent()).toBe(
      "Import finished: 2 users changed, 0 skipped because they changed after the check.",
    );
    expect(await limits(ids[0], "anthropic")).toEqual({ d: "12.5000000000", w: null, m: null });
    expect(await limits(ids[1], "openai")).toEqual({ d: "0.0000000000", w: null, m: "100.0000000000" });
    await screenshot(page, "transfer-en-desktop-done");

    // Export through the page's filter form: the browser downloads the file.
    await page.getByTestId("export-form").locator('input[name="q"]').fill(PREFIX);
    const [download] = await Promise.all([page.waitForEvent("download"), page.getByTestId("export-csv").click()]);
    expect(download.suggestedFilename()).toMatch(/^quota-limits-\d{4}-\d{2}-\d{2}\.csv$/);
    const file = await download.path();
    expect(fs.readFileSync(file, "utf8")).toBe(
      [
        "user_id,email,platform,daily_limit_usd,weekly_limit_usd,monthly_limit_usd",
        `${ids[0]},${emails[0]},anthropic,12.5,,`,
        `${ids[1]},${emails[1]},openai,0,,100`,
        "",
      ].join("\n"),
    );
    await page.context().close();
  });

  it("zh, phone: export the defaults, change one value in the file, check and apply it", async () => {
    const page = await adminPage("zh", { width: 390, height: 844 });
    const res = await page.request.get(`${base}/api/v1/admin/quota-defaults/export`);
    expect(res.status()).toBe(200);
    const doc = JSON.parse(await res.text());
    expect(doc.format).toBe("quota-console/defaults@1");
    const before = doc.system.gemini.weekly;
    doc.system.gemini.weekly = 42.5;
    await page
      .getByTestId("defaults-file")
      .setInputFiles({ name: "defaults.json", mimeType: "application/json", buffer: Buffer.from(JSON.stringify(doc)) });
    await page.getByTestId("defaults-check").click();
    const row = page.getByTestId("defaults-sample").locator("tbody tr");
    await expect.poll(() => row.count()).toBe(1);
    expect(await row.first().locator("td").allTextContents()).toEqual([
      "系统默认值",
      "gemini",
      "每周",
      before === null ? "不限" : before === 0 ? "禁用" : `$${before}`,
      "$42.5",
    ]);
    // The page fits the phone: nothing wider than the viewport.
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await screenshot(page, "transfer-zh-phone-check");
    await page.getByTestId("defaults-apply").click();
    await page.getByRole("alertdialog").getByRole("button", { name: "应用" }).click();
    await expect.poll(() => page.getByTestId("defaults-saved").textContent()).toBe("已修改 1 项默认值。");
    const { rows } = await c.query("SELECT value FROM settings WHERE key = 'default_platform_quotas'");
    expect(JSON.parse(rows[0].value).gemini.weekly).toBe(42.5);
    await screenshot(page, "transfer-zh-phone-saved");

    // A bad file: every problem with its path, in Chinese; nothing to apply.
    await page.getByTestId("defaults-file").setInputFiles({
      name: "bad.json",
      mimeType: "application/json",
      buffer: Buffer.from('{"format":"quota-console/defaults@1","system":{"gemini":{"daily":-1}}}'),
    });
    await page.getByTestId("defaults-check").click();
    await expect
      .poll(() => page.getByTestId("defaults-problems").locator("tbody tr").allTextContents())
      .toEqual(["system.gemini.daily不能小于 0。"]);
    expect(await page.getByTestId("defaults-apply").count()).toBe(0);
    await page.context().close();
  });
});
