import type pg from "pg";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

import { DEMO_ADMIN } from "@/lib/seed/demo";

import { launchChromium, signIn } from "../support/browser";
import { rawDb } from "../support/db";
import { sessionCookieFor } from "../support/session";

/**
 * Issue 10 §5 and §7 on the admin users page: disabling a user and "clear all" of a user's quotas
 * ask in a real dialog (focus moves in, Esc / Cancel leave everything as it was and give focus back
 * to the button, only the confirm button acts), in en and zh; and the list survives a NUL in `?q=`.
 */
const base = inject("baseURL");
const TARGET = "e2e-confirm@example.com";
let browser: Browser;
let c: pg.Client;
let targetId: number;

const status = async () =>
  (await c.query("SELECT status FROM users WHERE id = $1", [targetId])).rows[0].status as string;
const limits = async () =>
  (
    await c.query(
      "SELECT platform, daily_limit_usd::text FROM user_platform_quotas WHERE user_id = $1 AND deleted_at IS NULL ORDER BY platform",
      [targetId],
    )
  ).rows;
/** The accessible name / role of whatever has focus (after a close, poll it: Radix gives focus back in a setTimeout after the unmount). */
const focused = (page: Page) =>
  page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    return {
      text: el?.textContent ?? "",
      label: el?.getAttribute("aria-label") ?? "",
      inAlert: !!el?.closest('[role="alertdialog"]'),
    };
  });

async function adminOn(locale: "en" | "zh"): Promise<Page> {
  const ctx = await browser.newContext({ locale: locale === "zh" ? "zh-CN" : "en-US" });
  const page = await ctx.newPage();
  page.on("dialog", (d) => void d.dismiss()); // a native confirm() would be a regression: refuse it
  await page.goto(`${base}/${locale}/sign-in`);
  await signIn(page, DEMO_ADMIN.email, DEMO_ADMIN.password);
  await page.waitForURL(`${base}/${locale}/dashboard`);
  await page.goto(`${base}/${locale}/admin/users?q=e2e-confirm`);
  return page;
}

beforeAll(async () => {
  browser = await launchChromium();
  c = await rawDb();
  targetId = Number(
    (await c.query("INSERT INTO users (email, password_hash) VALUES ($1, 'x') RETURNING id", [TARGET])).rows[0].id,
  );
  await c.query(
    "INSERT INTO user_platform_quotas (user_id, platform, daily_limit_usd) VALUES ($1, 'anthropic', 7), ($1, 'openai', 3)",
    [targetId],
  );
});
afterAll(async () => {
  await browser?.close();
  await c.query("DELETE FROM users WHERE id = $1", [targetId]);
  await c.end();
});

describe("Disable asks first", () => {
  for (const [locale, t] of [
    [
      "en",
      {
        button: `Disable ${TARGET}`,
        title: `Disable ${TARGET}?`,
        cancel: "Cancel",
        confirm: "Disable user",
        disabled: "Disabled",
        enable: `Enable ${TARGET}`,
      },
    ],
    [
      "zh",
      {
        button: `禁用 ${TARGET}`,
        title: `禁用 ${TARGET}？`,
        cancel: "取消",
        confirm: "禁用用户",
        disabled: "已禁用",
        enable: `启用 ${TARGET}`,
      },
    ],
  ] as const) {
    it(`${locale}: Esc and Cancel leave the user active with focus back on the button; confirm disables`, async () => {
      await c.query("UPDATE users SET status = 'active' WHERE id = $1", [targetId]);
      const page = await adminOn(locale);
      const row = page.locator(`tr[data-testid="user-row-${targetId}"]`);
      const button = row.getByRole("button", { name: t.button });
      const dialog = page.getByRole("alertdialog");

      await button.click();
      await dialog.waitFor();
      expect(await dialog.getByRole("heading").textContent()).toBe(t.title);
      expect(await focused(page)).toMatchObject({ inAlert: true, text: t.cancel }); // focus moved in, on the safe choice
      await page.keyboard.press("Tab");
      expect((await focused(page)).inAlert).toBe(true);
      await page.keyboard.press("Tab");
      expect((await focused(page)).inAlert).toBe(true); // Tab stays inside
      await page.keyboard.press("Escape");
      await expect.poll(() => dialog.count()).toBe(0);
      await expect.poll(() => focused(page)).toMatchObject({ inAlert: false, label: t.button });
      expect(await status()).toBe("active");

      await button.click();
      await dialog.getByRole("button", { name: t.cancel }).click();
      await expect.poll(() => dialog.count()).toBe(0);
      await expect.poll(async () => (await focused(page)).label).toBe(t.button);
      expect(await status()).toBe("active");

      await button.click();
      await dialog.getByRole("button", { name: t.confirm }).click();
      await expect.poll(() => status()).toBe("disabled");
      await expect.poll(() => row.textContent()).toContain(t.disabled);
      // Enabling is harmless and acts at once.
      await row.getByRole("button", { name: t.enable }).click();
      await expect.poll(() => status()).toBe("active");
      expect(await dialog.count()).toBe(0);
      await page.context().close();
    });
  }
});

describe("a row action whose call never answers", () => {
  it("shows its error beside the button and changes nothing — status and role alike; the next try acts", async () => {
    await c.query("UPDATE users SET status = 'disabled', role = 'user' WHERE id = $1", [targetId]);
    const page = await adminOn("en");
    const row = page.locator(`tr[data-testid="user-row-${targetId}"]`);
    const failed = "Something went wrong on our side. Please try again.";
    // Server actions are POSTs to the page: cut them at the connection, as a dead network would.
    const cut = (route: import("playwright-core").Route) =>
      route.request().method() === "POST" ? route.abort("connectionreset") : route.continue();
    await page.route("**/admin/users**", cut);

    await row.getByRole("button", { name: `Enable ${TARGET}` }).click();
    await expect.poll(() => row.textContent()).toContain(failed);
    await row.getByRole("button", { name: `Make admin: ${TARGET}` }).click();
    await expect.poll(async () => (await row.textContent())?.split(failed).length).toBe(3); // one per button
    expect(await page.getByRole("heading", { name: "Something went wrong" }).count()).toBe(0); // not the error page
    expect((await c.query("SELECT status, role FROM users WHERE id = $1", [targetId])).rows[0]).toEqual({
      status: "disabled",
      role: "user",
    });

    await page.unroute("**/admin/users**", cut);
    await row.getByRole("button", { name: `Enable ${TARGET}` }).click();
    await expect.poll(() => status()).toBe("active");
    await page.context().close();
  });
});

describe("Clear all asks first", () => {
  for (const [locale, t] of [
    [
      "en",
      {
        open: `Platform quotas of ${TARGET}`,
        clear: "Clear All (remove all limits)",
        title: "Clear all limits?",
        cancel: "Cancel",
        confirm: "Clear all",
      },
    ],
    [
      "zh",
      {
        open: `${TARGET} 的平台限额`,
        clear: "全部清空（取消所有限额）",
        title: "清空全部限额？",
        cancel: "取消",
        confirm: "全部清空",
      },
    ],
  ] as const) {
    it(`${locale}: Esc and Cancel keep the values and the modal; confirm empties every cell (nothing saved until Save)`, async () => {
      const page = await adminOn(locale);
      const before = await limits();
      await page.getByRole("button", { name: t.open }).click();
      const modal = page.getByRole("dialog");
      const cell = modal.locator('[data-cell="quotas.anthropic.daily"]');
      await expect.poll(() => cell.inputValue()).toBe("7");
      const clear = modal.getByRole("button", { name: t.clear });
      const confirm = page.getByRole("alertdialog");

      await clear.click();
      await confirm.waitFor();
      expect(await confirm.getByRole("heading").textContent()).toBe(t.title);
      expect(await focused(page)).toMatchObject({ inAlert: true, text: t.cancel });
      await page.keyboard.press("Escape"); // closes the question only, not the quota modal
      await expect.poll(() => confirm.count()).toBe(0);
      expect(await modal.count()).toBe(1);
      await expect.poll(() => focused(page)).toMatchObject({ inAlert: false, text: t.clear });
      expect(await cell.inputValue()).toBe("7");

      await clear.click();
      await confirm.getByRole("button", { name: t.cancel }).click();
      await expect.poll(() => confirm.count()).toBe(0);
      expect(await cell.inputValue()).toBe("7");
      expect(await modal.locator('[data-cell="quotas.openai.daily"]').inputValue()).toBe("3");

      await clear.click();
      await confirm.getByRole("button", { name: t.confirm }).click();
      await expect.poll(() => cell.inputValue()).toBe("");
      expect(await modal.locator('[data-cell="quotas.openai.daily"]').inputValue()).toBe("");
      expect(await limits()).toEqual(before);
      await page.context().close();
    });
  }
});

// Guards issue 10 §7: a NUL in the search made PostgreSQL fail the statement (22021) and the page 500.
describe("the users list's query string", () => {
  it("?q=%00 and a NUL inside a term answer the list, not an error", async () => {
    const cookie = await sessionCookieFor(DEMO_ADMIN.email);
    const all = await fetch(`${base}/en/admin/users`, { headers: { Cookie: cookie } });
    expect(all.status).toBe(200); // positive control
    const count = (html: string) => /data-testid="result-count">([^<]*)</.exec(html)?.[1];
    const total = count(await all.text());
    expect(total).toMatch(/^\d+ users$/);
    const nul = await fetch(`${base}/en/admin/users?q=%00`, { headers: { Cookie: cookie } });
    expect(nul.status).toBe(200);
    expect(count(await nul.text())).toBe(total);
    const inside = await fetch(`${base}/zh/admin/users?q=e2e-con%00firm`, { headers: { Cookie: cookie } });
    expect(inside.status).toBe(200);
    const html = await inside.text();
    expect(count(html)).toBe("共 1 个用户");
    expect(html).toContain(TARGET);
  });
});
