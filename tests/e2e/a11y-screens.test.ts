import { createRequire } from "node:module";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

import { DEMO_ADMIN, DEMO_USER_PASSWORD } from "@/lib/seed/demo";

import { launchChromium, screenshot, signIn } from "../support/browser";

/**
 * Every admin and user page, in both languages, checked by axe-core (WCAG 2.1 A/AA rules, injected
 * into the page: no serious or critical violation) and photographed at 1366×900 and 390×844 into
 * test-results/ (`page-<name>-<locale>-<desktop|phone>.png`). Guards regressions such as the
 * 2.63:1 placeholders and a header that escaped the table's scroll box (issue 13).
 */
const base = inject("baseURL");
const axeSource: string = (createRequire(import.meta.url)("axe-core") as { source: string }).source;
let browser: Browser;

const VIEWPORTS = { desktop: { width: 1366, height: 900 }, phone: { width: 390, height: 844 } } as const;
const ADMIN_PAGES = [
  "admin/overview",
  "admin/users",
  "admin/settings",
  "admin/cache",
  "admin/audit",
  "admin/transfer",
  "dashboard",
] as const;

type Violation = { id: string; impact: string | null; nodes: Array<{ target: string[]; failureSummary?: string }> };

/** axe-core's serious and critical findings on the page as it stands, as readable lines. */
async function axe(page: Page): Promise<string[]> {
  await page.addScriptTag({ content: axeSource });
  const violations = await page.evaluate(async () => {
    const w = window as unknown as {
      axe: { run: (ctx: Document, o: object) => Promise<{ violations: Violation[] }> };
    };
    const r = await w.axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
      resultTypes: ["violations"],
    });
    return r.violations;
  });
  return violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .flatMap((v) => v.nodes.slice(0, 5).map((n) => `${v.impact} ${v.id}: ${n.target.join(" ")}`));
}

async function signedIn(
  locale: "en" | "zh",
  email: string,
  password: string,
  viewport: { width: number; height: number },
) {
  const ctx = await browser.newContext({
    locale: locale === "zh" ? "zh-CN" : "en-US",
    timezoneId: "Asia/Shanghai",
    viewport,
  });
  const page = await ctx.newPage();
  await page.goto(`${base}/${locale}/sign-in`);
  await signIn(page, email, password);
  await page.waitForURL(`${base}/${locale}/dashboard`);
  return page;
}

beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

describe.each(["en", "zh"] as const)("%s", (locale) => {
  it.each(Object.keys(VIEWPORTS) as Array<keyof typeof VIEWPORTS>)(
    "admin pages at %s: no serious or critical axe violation; screenshots",
    async (size) => {
      const page = await signedIn(locale, DEMO_ADMIN.email, DEMO_ADMIN.password, VIEWPORTS[size]);
      const found: Record<string, string[]> = {};
      for (const path of ADMIN_PAGES) {
        await page.goto(`${base}/${locale}/${path}`);
        await page.locator("h1").first().waitFor();
        found[path] = await axe(page);
        await screenshot(page, `page-${path.replace("/", "-")}-admin-${locale}-${size}`);
      }
      // The quota modal, open on the first user.
      await page.goto(`${base}/${locale}/admin/users?q=alice`);
      await page.locator('[data-testid^="user-row-"] button').first().click();
      await page.getByRole("dialog").locator("input").first().waitFor();
      found["quota modal"] = await axe(page);
      await screenshot(page, `page-quota-modal-${locale}-${size}`);
      expect(found).toEqual(Object.fromEntries([...ADMIN_PAGES, "quota modal"].map((p) => [p, []])));
      await page.context().close();
    },
  );

  it.each(Object.keys(VIEWPORTS) as Array<keyof typeof VIEWPORTS>)(
    "user pages at %s (sign-in, register, dashboard, 403): no serious or critical axe violation; screenshots",
    async (size) => {
      const ctx = await browser.newContext({ locale: locale === "zh" ? "zh-CN" : "en-US", viewport: VIEWPORTS[size] });
      const anon = await ctx.newPage();
      const found: Record<string, string[]> = {};
      for (const path of ["sign-in", "register"]) {
        await anon.goto(`${base}/${locale}/${path}`);
        found[path] = await axe(anon);
        await screenshot(anon, `page-${path}-${locale}-${size}`);
      }
      await ctx.close();
      const page = await signedIn(locale, "alice@example.com", DEMO_USER_PASSWORD, VIEWPORTS[size]);
      await page.locator("h1").first().waitFor();
      found.dashboard = await axe(page);
      await screenshot(page, `page-dashboard-user-${locale}-${size}`);
      await page.goto(`${base}/${locale}/admin/users`);
      found.forbidden = await axe(page);
      await screenshot(page, `page-forbidden-user-${locale}-${size}`);
      expect(found).toEqual({ "sign-in": [], register: [], dashboard: [], forbidden: [] });
      await page.context().close();
    },
  );
});
