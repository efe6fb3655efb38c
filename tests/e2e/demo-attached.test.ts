import fs from "node:fs";
import path from "node:path";
import pg from "pg";
import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { DEMO_ADMIN, DEMO_USER_PASSWORD } from "@/lib/seed/demo";

import { launchChromium, screenshot, signIn } from "../support/browser";
import { startDemo, stopDemo, type Demo } from "../support/demo";
import { ATTACHED } from "../support/gateway-fixture";

/**
 * `npm run demo -- --attached` (README "Attach to your sub2api"): one command brings up the console
 * attached to an embedded database laid out as a live gateway's — the gateway's tables in public
 * with the gateway's context seeded, the console's in quota_console — and it works as the attached
 * console does: health names the mode and the passed compatibility check, sign-up is delegated to
 * the gateway, the settings page shows the gateway's registration switch.
 */
let browser: Browser;
let demo: Demo;

// Its own database whatever the suite's layout: once, in the standalone phase.
describe.skipIf(ATTACHED)("npm run demo -- --attached", () => {
  beforeAll(async () => {
    browser = await launchChromium();
    demo = await startDemo(["--attached"]);
  });
  afterAll(async () => {
    await browser?.close();
    await stopDemo(demo);
  });

  it("says it is attached, keeps its data apart, and reports the passed compatibility check", async () => {
    expect(demo.output()).toContain("laid out as a sub2api gateway's database (attached mode)");
    expect(demo.output()).toMatch(/seed: gateway context added \(\d+ usage_logs rows\)/);
    expect(fs.existsSync(path.join(demo.dataDir, "pglite-gateway"))).toBe(true);
    expect(fs.existsSync(path.join(demo.dataDir, "pglite"))).toBe(false);
    const health = await (await fetch(`${demo.base}/api/health`)).json();
    expect(health).toMatchObject({ status: "ok", gateway: { mode: "attached", schemaCheck: "ok" } });
  });

  it("holds the gateway's tables in public and the console's in quota_console, seeded like a gateway", async () => {
    const env = JSON.parse(fs.readFileSync(path.join(demo.dataDir, "demo-env.json"), "utf8"));
    expect(env.GATEWAY_DATABASE).toBe("attached");
    const c = new pg.Client({ connectionString: env.DATABASE_URL });
    await c.connect();
    try {
      const tables = await c.query(
        `SELECT table_schema || '.' || table_name AS t FROM information_schema.tables
          WHERE table_schema IN ('public', 'quota_console') ORDER BY 1`,
      );
      const names = tables.rows.map((r) => r.t);
      for (const t of ["public.usage_logs", "public.user_subscriptions", "public.auth_identities", "public.api_keys"])
        expect(names).toContain(t);
      expect(names).toContain("quota_console.console_sessions");
      expect(names.filter((t) => t.startsWith("public.console_"))).toEqual([]);
      const { rows } = await c.query(
        `SELECT (SELECT count(*)::int FROM public.usage_logs) AS logs,
                (SELECT count(*)::int FROM public.users WHERE email LIKE '%-connect.invalid') AS oauth,
                (SELECT count(*)::int FROM public.user_platform_quotas) AS quotas,
                (SELECT count(*)::int FROM public.user_subscriptions WHERE status = 'active') AS subs`,
      );
      expect(rows[0].logs).toBeGreaterThan(0);
      expect(rows[0].oauth).toBe(4);
      expect(rows[0].subs).toBe(1);
      expect(rows[0].quotas).toBeGreaterThan(0);
    } finally {
      await c.end();
    }
  });

  it("sign-up points to the gateway; the admin sees the gateway's registration switch; a user signs in", async () => {
    const ctx = await browser.newContext({ locale: "en-US" });
    const page = await ctx.newPage();
    await page.goto(`${demo.base}/en/register`);
    await expect.poll(() => page.getByTestId("registration-delegated").isVisible()).toBe(true);
    expect(await page.locator('input[name="password"]').count()).toBe(0);
    await page.goto(`${demo.base}/zh/register`);
    expect(await page.locator("h1").textContent()).toBe("请在网关注册");
    await screenshot(page, "demo-attached-register-zh");

    await page.goto(`${demo.base}/en/sign-in`);
    expect(await page.getByTestId("oauth-hint").textContent()).toContain("Set a password on the gateway first");
    await signIn(page, DEMO_ADMIN.email, DEMO_ADMIN.password);
    await page.waitForURL(`${demo.base}/en/dashboard`);
    await page.goto(`${demo.base}/en/admin/settings`);
    const reg = page.getByTestId("registration-settings");
    expect(await reg.getAttribute("data-delegated")).toBe("true");
    expect(await page.getByTestId("registration-gateway").getAttribute("data-on")).toBe("true");
    expect(await reg.locator('input[role="switch"]').count()).toBe(0);
    await screenshot(page, "demo-attached-settings-en");
    await ctx.close();

    const user = await browser.newContext({ locale: "en-US" });
    const up = await user.newPage();
    await up.goto(`${demo.base}/en/sign-in`);
    await signIn(up, "alice@example.com", DEMO_USER_PASSWORD);
    await up.waitForURL(`${demo.base}/en/dashboard`);
    await user.close();
  });
});
