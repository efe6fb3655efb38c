import fs from "node:fs";
import path from "node:path";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { DEMO_ADMIN, DEMO_USER_PASSWORD } from "@/lib/seed/demo";

import { ADMIN_MENU, launchChromium, screenshot, signIn } from "../support/browser";
import { startDemo, stopDemo, type Demo } from "../support/demo";
import { ATTACHED } from "../support/gateway-fixture";

/**
 * README command 1 (`npm run demo`) on a machine without PostgreSQL or Redis: no DATABASE_URL, no
 * REDIS_URL, and a PATH on which no redis-server can be found. It must bring up a working console
 * on embedded PGlite, say that it runs without the shared cache, and print the URL and
 * credentials.
 */
let browser: Browser;
let demo: Demo;
let output = "";
let base = "";
let dataDir = "";

// The demo brings its own database whatever the suite's layout: run it once, in the standalone phase.
describe.skipIf(ATTACHED)("npm run demo with no PostgreSQL and no Redis", () => {
  beforeAll(async () => {
    browser = await launchChromium();
    demo = await startDemo();
    ({ base, dataDir } = demo);
    output = demo.output();
  });

  afterAll(async () => {
    await browser?.close();
    await stopDemo(demo);
  });

  it("prints the URL and demo credentials, and says it runs without the shared cache", () => {
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(output).toContain(`${DEMO_ADMIN.email} / ${DEMO_ADMIN.password}`);
    expect(output).toContain(`alice@example.com / ${DEMO_USER_PASSWORD}`);
    expect(output).toContain("running WITHOUT the shared Redis cache");
    expect(fs.existsSync(path.join(dataDir, "pglite"))).toBe(true);
  });

  it("reports the embedded database up and Redis disabled", async () => {
    const health = await (await fetch(`${base}/api/health`)).json();
    expect(health).toMatchObject({ status: "ok", database: { status: "up" }, redis: { status: "disabled" } });
  });

  it("admin signs in, sees the admin menu and the no-cache notice, switches zh ↔ en", async () => {
    const ctx = await browser.newContext({ locale: "en-US" });
    const page = await ctx.newPage();
    await page.goto(base);
    await signIn(page, DEMO_ADMIN.email, DEMO_ADMIN.password);
    await page.waitForURL(`${base}/en/dashboard`);
    expect(await page.getByTestId("admin-menu").getByRole("link").allTextContents()).toEqual([...ADMIN_MENU.en]);
    expect(await page.getByRole("status").textContent()).toContain("Running without the shared Redis cache");
    await page.getByLabel("Language").selectOption("zh");
    await page.waitForURL(`${base}/zh/dashboard`);
    await expect
      .poll(() => page.getByTestId("admin-menu").getByRole("link").allTextContents())
      .toEqual([...ADMIN_MENU.zh]);
    await page.getByRole("link", { name: "用户管理" }).click();
    await page.waitForURL(`${base}/zh/admin/users`);
    await expect.poll(() => page.getByTestId("stat-total").textContent()).toBe("9");
    await page.getByLabel("语言").selectOption("en");
    await page.waitForURL(`${base}/en/admin/users`);
    expect(await page.locator("h1").textContent()).toBe("Users");
    await screenshot(page, "demo-admin-users-en");
    // The audit log reads on the embedded PostgreSQL too (no named prepared statements).
    const audit = await page.goto(`${base}/en/admin/audit`);
    expect(audit?.status()).toBe(200);
    expect(await page.locator("h1").textContent()).toBe("Audit log");
    await ctx.close();
  });

  it("a seeded user sees no admin menu and gets 403 on admin URLs", async () => {
    const ctx = await browser.newContext({ locale: "zh-CN" });
    const page = await ctx.newPage();
    await page.goto(base);
    await signIn(page, "linuxdo-10086@linuxdo-connect.invalid", DEMO_USER_PASSWORD);
    await page.waitForURL(`${base}/zh/dashboard`);
    expect(await page.getByTestId("admin-menu").count()).toBe(0);
    const res = await page.goto(`${base}/zh/admin/settings`);
    expect(res?.status()).toBe(403);
    expect(await page.locator("h1").textContent()).toBe("无权访问");
    await ctx.close();
  });

  it("stops cleanly on SIGTERM and keeps its data for the next start", async () => {
    demo.process.kill("SIGTERM");
    const code = await new Promise((r) => demo.process.once("exit", r));
    expect(code).toBe(0);
    expect(fs.readdirSync(path.join(dataDir, "pglite")).length).toBeGreaterThan(0);
  });
});
