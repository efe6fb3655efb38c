import type pg from "pg";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

import { hashPassword } from "@/lib/auth/password";
import { DEMO_ADMIN, DEMO_USER_PASSWORD } from "@/lib/seed/demo";

import { ADMIN_MENU, launchChromium, screenshot, signIn } from "../support/browser";
import { rawDb } from "../support/db";

/** The console in Chromium against the production build, real PostgreSQL and Redis. */
const base = inject("baseURL");
let browser: Browser;
let c: pg.Client;

async function newPage(locale: string): Promise<{ ctx: BrowserContext; page: Page }> {
  const ctx = await browser.newContext({ locale, timezoneId: "Europe/Berlin" });
  return { ctx, page: await ctx.newPage() };
}

beforeAll(async () => {
  browser = await launchChromium();
  c = await rawDb();
  await c.query(
    "INSERT INTO users (email, password_hash) VALUES ('e2e-throttle@example.com', $1) ON CONFLICT DO NOTHING",
    [await hashPassword("throttle-pass")],
  );
});
afterAll(async () => {
  await browser?.close();
  await c.query("DELETE FROM users WHERE email = 'e2e-throttle@example.com'");
  await c.end();
});

describe("sign-in", () => {
  it("picks the language from the browser: zh-CN → /zh/sign-in, en-US → /en/sign-in", async () => {
    for (const [locale, prefix, title] of [
      ["zh-CN", "/zh/sign-in", "登录"],
      ["en-US", "/en/sign-in", "Sign in"],
    ]) {
      const { ctx, page } = await newPage(locale);
      await page.goto(`${base}/`);
      expect(new URL(page.url()).pathname).toBe(prefix);
      expect(await page.locator("h1").textContent()).toBe(title);
      await ctx.close();
    }
  });

  // Guards against account enumeration in the UI: unknown account and wrong password read alike.
  it("shows the same localized error for a wrong password and an unknown e-mail", async () => {
    for (const [locale, message] of [
      ["en-US", "Incorrect e-mail or password."],
      ["zh-CN", "邮箱或密码错误。"],
    ]) {
      const { ctx, page } = await newPage(locale);
      await page.goto(`${base}/`);
      const texts: string[] = [];
      for (const email of ["alice@example.com", "nobody-here@example.com"]) {
        await signIn(page, email, "definitely-wrong");
        const alert = page.locator("form [role=alert]");
        await alert.waitFor();
        texts.push((await alert.textContent()) ?? "");
        await page.reload();
      }
      expect(texts).toEqual([message, message]);
      await ctx.close();
    }
  });

  // The 6th attempt from one browser comes before the 30 s back-off after 5 failures has passed
  // (lib/auth/sign-in-throttle.ts), so it is refused even with the right password.
  it("refuses the 6th rapid failure with a localized rate-limit message, even with the right password", async () => {
    const { ctx, page } = await newPage("en-US");
    await page.goto(`${base}/en/sign-in`);
    const alert = page.locator("form [role=alert]");
    for (let i = 1; i <= 5; i++) {
      await signIn(page, "e2e-throttle@example.com", `wrong-${i}`);
      await expect.poll(() => alert.textContent()).toBe("Incorrect e-mail or password.");
      await page.reload();
    }
    await signIn(page, "e2e-throttle@example.com", "throttle-pass");
    await expect.poll(() => alert.textContent()).toBe("Too many failed sign-in attempts. Try again in 1 minute.");
    expect(new URL(page.url()).pathname).toBe("/en/sign-in");
    await page.goto(`${base}/zh/sign-in`);
    await signIn(page, "e2e-throttle@example.com", "throttle-pass");
    await expect.poll(() => alert.textContent()).toBe("登录失败次数过多，请 1 分钟后再试。");
    await ctx.close();
  });
});

describe("admin", () => {
  it("signs in, sees the admin menu, switches en ↔ zh, manages users, signs out", async () => {
    const { ctx, page } = await newPage("en-US");
    await page.goto(`${base}/en/sign-in`);
    await signIn(page, DEMO_ADMIN.email, DEMO_ADMIN.password);
    await page.waitForURL(`${base}/en/dashboard`);
    const cookies = await ctx.cookies();
    const session = cookies.find((k) => k.name === "__Host-qc_session")!;
    expect(session).toMatchObject({ httpOnly: true, secure: true, sameSite: "Lax", path: "/" });

    const menu = page.getByTestId("admin-menu");
    expect(await menu.getByRole("link").allTextContents()).toEqual([...ADMIN_MENU.en]);

    await page.getByLabel("Language").selectOption("zh");
    await page.waitForURL(`${base}/zh/dashboard`);
    await expect.poll(() => menu.getByRole("link").allTextContents()).toEqual([...ADMIN_MENU.zh]);

    await menu.getByRole("link", { name: "用户管理" }).click();
    await page.waitForURL(`${base}/zh/admin/users`);
    const row = page.locator("tr", { hasText: "carol.w@example.net" });
    await expect.poll(() => row.textContent()).toContain("正常");
    await row.getByRole("button", { name: "禁用 carol.w@example.net" }).click();
    await page.getByRole("alertdialog").getByRole("button", { name: "禁用用户" }).click();
    await expect.poll(() => row.textContent()).toContain("已禁用");
    expect((await c.query("SELECT status FROM users WHERE email = 'carol.w@example.net'")).rows[0].status).toBe(
      "disabled",
    );
    await row.getByRole("button", { name: "启用 carol.w@example.net" }).click();
    await expect.poll(() => row.textContent()).toContain("正常");
    await screenshot(page, "admin-users-zh");

    await page.getByLabel("语言").selectOption("en");
    await page.waitForURL(`${base}/en/admin/users`);
    await page.getByRole("link", { name: "Settings" }).click();
    await page.waitForURL(`${base}/en/admin/settings`);
    expect(await page.locator("h1").textContent()).toBe("Settings");
    await screenshot(page, "admin-settings-en");

    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(`${base}/en/sign-in`);
    await page.goto(`${base}/en/admin/users`);
    expect(new URL(page.url()).pathname).toBe("/en/sign-in");
    await ctx.close();
  });
});

describe("user", () => {
  it("sees no admin menu and gets a localized 403 on admin URLs", async () => {
    const { ctx, page } = await newPage("zh-CN");
    await page.goto(`${base}/zh/sign-in`);
    await signIn(page, "alice@example.com", DEMO_USER_PASSWORD);
    await page.waitForURL(`${base}/zh/dashboard`);
    expect(await page.getByTestId("admin-menu").count()).toBe(0);
    expect(await page.locator("h1").textContent()).toBe("欢迎，alice");
    for (const p of ["/zh/admin/users", "/zh/admin/settings"]) {
      const res = await page.goto(`${base}${p}`);
      expect(res?.status()).toBe(403);
      expect(await page.locator("h1").textContent()).toBe("无权访问");
    }
    await screenshot(page, "user-forbidden-zh");
    await ctx.close();
  });
});
