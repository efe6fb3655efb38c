import type pg from "pg";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

import { DEMO_ADMIN } from "@/lib/seed/demo";

import { launchChromium, screenshot, signIn } from "../support/browser";
import { rawDb } from "../support/db";

/**
 * Issue 13 §1–2 on the per-user quota modal (a Radix dialog): toasts never move focus, Tab stays
 * inside, focus starts on the first cell and returns to the row's button, Esc or the backdrop with
 * unsaved edits asks first, and on a 390×844 phone the dialog is a sheet whose Save is on screen.
 */
const base = inject("baseURL");
const TARGET = "e2e-focus@example.com";
let browser: Browser;
let c: pg.Client;
let targetId: number;

/**
 * Where focus is: the cell path, the accessible name or text, and which dialog holds it. After a
 * dialog closes, read it with expect.poll: Radix gives focus back in a setTimeout after the unmount,
 * so for a moment after the dialog leaves the DOM focus is on the body.
 */
const focused = (page: Page) =>
  page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    return {
      cell: el?.getAttribute("data-cell") ?? null,
      label: el?.getAttribute("aria-label") ?? el?.textContent ?? "",
      inDialog: !!el?.closest('[role="dialog"]'),
      inAlert: !!el?.closest('[role="alertdialog"]'),
    };
  });

async function openModal(opts: { locale?: "en" | "zh"; viewport?: { width: number; height: number } } = {}) {
  const locale = opts.locale ?? "en";
  const ctx = await browser.newContext({
    locale: locale === "zh" ? "zh-CN" : "en-US",
    viewport: opts.viewport ?? { width: 1366, height: 900 },
  });
  const page = await ctx.newPage();
  page.on("dialog", (d) => void d.accept()); // the reset window's confirm()
  await page.goto(`${base}/${locale}/sign-in`);
  await signIn(page, DEMO_ADMIN.email, DEMO_ADMIN.password);
  await page.waitForURL(`${base}/${locale}/dashboard`);
  await page.goto(`${base}/${locale}/admin/users?q=e2e-focus`);
  const opener = page.getByRole("button", {
    name: locale === "en" ? `Platform quotas of ${TARGET}` : `${TARGET} 的平台限额`,
  });
  await opener.click();
  const dialog = page.getByRole("dialog");
  const cell = (path: string) => dialog.locator(`[data-cell="quotas.${path}"]`);
  await expect.poll(() => cell("anthropic.daily").inputValue()).toBe("8");
  return { page, dialog, cell, opener };
}

beforeAll(async () => {
  browser = await launchChromium();
  c = await rawDb();
  targetId = Number(
    (await c.query("INSERT INTO users (email, password_hash) VALUES ($1, 'x') RETURNING id", [TARGET])).rows[0].id,
  );
  await c.query("INSERT INTO user_platform_quotas (user_id, platform, daily_limit_usd) VALUES ($1, 'anthropic', 8)", [
    targetId,
  ]);
});
afterAll(async () => {
  await browser?.close();
  await c.query("DELETE FROM users WHERE id = $1", [targetId]);
  await c.end();
});

describe("the per-user quota modal keeps focus where the admin put it", () => {
  it("focus starts on the first cell; typing while a toast appears and expires goes to the intended cell", async () => {
    const { page, dialog, cell } = await openModal();
    await expect.poll(async () => (await focused(page)).cell).toBe("quotas.anthropic.daily");
    // A reset answers with a toast and new data (setQueryData): the old modal then moved focus to
    // Claude daily, so "23" typed into another cell became Claude daily "823".
    await dialog.getByRole("button", { name: "Reset daily usage of Claude" }).click();
    await cell("gemini.weekly").click();
    await page.keyboard.type("2");
    await page.getByTestId("toast").waitFor(); // appeared
    await page.keyboard.type("3");
    await page.getByTestId("toast").waitFor({ state: "detached", timeout: 8000 }); // expired
    await page.keyboard.type("4");
    expect(await cell("gemini.weekly").inputValue()).toBe("234");
    expect(await cell("anthropic.daily").inputValue()).toBe("8");
    expect((await focused(page)).cell).toBe("quotas.gemini.weekly");
    // The edited cell is marked; the untouched ones are not.
    expect(await cell("gemini.weekly").getAttribute("data-dirty")).toBe("true");
    expect(await cell("anthropic.daily").getAttribute("data-dirty")).toBeNull();
    await page.context().close();
  });

  it("Tab and Shift+Tab cycle inside the open modal", async () => {
    const { page } = await openModal();
    await expect.poll(async () => (await focused(page)).cell).toBe("quotas.anthropic.daily");
    const seen: string[] = [];
    for (let i = 0; i < 45; i++) {
      await page.keyboard.press("Tab");
      const f = await focused(page);
      expect(f.inDialog, `after ${i + 1} Tabs: ${f.label}`).toBe(true);
      seen.push(f.cell ?? f.label);
    }
    // 24 cells + Claude's 3 reset buttons + Clear all + Cancel + Save = 30 stops: 45 Tabs wrap once.
    expect(seen.filter((s) => s === "quotas.anthropic.daily").length).toBe(1);
    expect(seen).toContain("Save");
    await page.keyboard.press("Shift+Tab");
    expect((await focused(page)).inDialog).toBe(true);
    await page.context().close();
  });

  it("Esc without edits closes and gives focus back to the row's button", async () => {
    const { page, dialog } = await openModal();
    await page.keyboard.press("Escape");
    await expect.poll(() => dialog.count()).toBe(0);
    await expect.poll(() => focused(page)).toMatchObject({ label: `Platform quotas of ${TARGET}`, inDialog: false });
    await page.context().close();
  });

  it("Esc or the backdrop with edits asks first; keep editing keeps them, discard closes", async () => {
    const { page, dialog, cell } = await openModal();
    await cell("openai.daily").fill("12");
    await page.keyboard.press("Escape");
    const ask = page.getByRole("alertdialog");
    await ask.waitFor();
    expect(await ask.getByRole("heading").textContent()).toBe("Discard your changes?");
    await ask.getByRole("button", { name: "Keep editing" }).click();
    await expect.poll(() => ask.count()).toBe(0);
    expect(await dialog.count()).toBe(1);
    expect(await cell("openai.daily").inputValue()).toBe("12");
    expect((await focused(page)).cell).toBe("quotas.openai.daily");

    await page.mouse.click(5, 5); // the backdrop
    await ask.waitFor();
    await page.keyboard.press("Escape"); // closes only the question
    await expect.poll(() => ask.count()).toBe(0);
    expect(await dialog.count()).toBe(1);

    await page.keyboard.press("Escape");
    await ask.getByRole("button", { name: "Discard changes" }).click();
    await expect.poll(() => dialog.count()).toBe(0);
    await expect.poll(() => focused(page)).toMatchObject({ label: `Platform quotas of ${TARGET}` });
    const rows = await c.query(
      "SELECT platform, daily_limit_usd::float8 AS d FROM user_platform_quotas WHERE user_id = $1 AND deleted_at IS NULL",
      [targetId],
    );
    expect(rows.rows).toEqual([{ platform: "anthropic", d: 8 }]); // nothing saved
    await page.context().close();
  });

  for (const locale of ["en", "zh"] as const)
    it(`${locale}: on a 390×844 phone the modal is a full-screen sheet with Save on screen`, async () => {
      const viewport = { width: 390, height: 844 };
      const { page, dialog, cell } = await openModal({ locale, viewport });
      await screenshot(page, `quota-modal-phone-${locale}`);
      const box = await dialog.boundingBox();
      expect(box).toMatchObject({ x: 0, y: 0, width: 390, height: 844 });
      const save = dialog.getByRole("button", { name: locale === "en" ? "Save" : "保存", exact: true });
      const s = (await save.boundingBox())!;
      expect(s.y).toBeGreaterThanOrEqual(0);
      expect(s.y + s.height).toBeLessThanOrEqual(viewport.height);
      expect(s.x + s.width).toBeLessThanOrEqual(viewport.width);
      // Visible without scrolling anything: the sheet is fixed to the viewport, Save sits outside its
      // scroll box, and it is what a tap at its centre hits (nothing drawn over it).
      expect(
        await save.evaluate((el) => {
          const r = el.getBoundingClientRect();
          return document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2) === el;
        }),
      ).toBe(true);
      // The save's toast is drawn inside the viewport, above the sheet (issue 13: toasts below it).
      await cell("anthropic.daily").fill("9");
      await save.click();
      const toast = page.getByTestId("toast");
      await expect.poll(() => toast.isVisible()).toBe(true);
      const t = (await toast.boundingBox())!;
      expect(t.x).toBeGreaterThanOrEqual(0);
      expect(t.y).toBeGreaterThanOrEqual(0);
      expect(t.x + t.width).toBeLessThanOrEqual(viewport.width);
      expect(t.y + t.height).toBeLessThanOrEqual(viewport.height);
      await screenshot(page, `quota-modal-phone-toast-${locale}`);
      await c.query("UPDATE user_platform_quotas SET daily_limit_usd = 8 WHERE user_id = $1", [targetId]);
      await page.context().close();
    });
});
