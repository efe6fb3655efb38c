import http from "node:http";
import type { AddressInfo } from "node:net";
import type pg from "pg";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

import { hashPassword } from "@/lib/auth/password";
import { DEMO_ADMIN } from "@/lib/seed/demo";

import { builtAction, callAction } from "../support/actions";
import { launchChromium, signIn } from "../support/browser";
import { rawDb } from "../support/db";
import { startNextServer } from "../support/e2e-global-setup";
import { sessionCookieFor } from "../support/session";

/**
 * Issue 10 §5 at the HTTP boundary of the production build: every kind of response carries the
 * security headers (a per-request nonce CSP, frame-ancestors 'none' + X-Frame-Options, nosniff,
 * Referrer-Policy, Permissions-Policy, HSTS only with Secure cookies); a same-site page cannot
 * frame the admin users table with the admin's session; and the pages work under the CSP in
 * Chromium with no violation reported, in en and zh.
 */
const base = inject("baseURL");
const USER = { email: "e2e-csp@example.com", password: "csp-user-password" };
let browser: Browser;
let c: pg.Client;

beforeAll(async () => {
  browser = await launchChromium();
  c = await rawDb();
  const u = await c.query("INSERT INTO users (email, password_hash) VALUES ($1, $2) RETURNING id", [
    USER.email,
    await hashPassword(USER.password),
  ]);
  const today = new Date();
  // Daily usage 1 of 2: the dashboard's bar is 50 % wide through a server-rendered style attribute.
  await c.query(
    "INSERT INTO user_platform_quotas (user_id, platform, daily_limit_usd, daily_usage_usd, daily_window_start) VALUES ($1, 'anthropic', 2, 1, $2)",
    [u.rows[0].id, today],
  );
});
afterAll(async () => {
  await browser?.close();
  await c.query("DELETE FROM users WHERE email = $1", [USER.email]);
  await c.end();
});

/** The CSP as directive → sources. */
function csp(res: Response): Map<string, string[]> {
  const value = res.headers.get("content-security-policy") ?? "";
  return new Map(
    value
      .split(";")
      .map((d) => d.trim().split(/\s+/))
      .filter((d) => d[0])
      .map(([name, ...sources]) => [name, sources]),
  );
}

/** Asserts every security header on one response and returns its CSP nonce. */
function expectSecurityHeaders(res: Response, what: string, secure = true): string {
  const policy = csp(res);
  const script = policy.get("script-src") ?? [];
  const nonce = script.find((s) => s.startsWith("'nonce-"))?.slice(7, -1) ?? "";
  expect(nonce, `${what}: script nonce`).toMatch(/^[A-Za-z0-9+/]{22}==$/);
  expect(script, what).toContain("'strict-dynamic'");
  expect(script, what).not.toContain("'unsafe-inline'");
  expect(script, what).not.toContain("'unsafe-eval'"); // production build
  expect(policy.get("style-src"), what).toEqual(["'self'", `'nonce-${nonce}'`]);
  expect(policy.get("default-src"), what).toEqual(["'self'"]);
  expect(policy.get("object-src"), what).toEqual(["'none'"]);
  expect(policy.get("base-uri"), what).toEqual(["'none'"]);
  expect(policy.get("form-action"), what).toEqual(["'self'"]);
  expect(policy.get("frame-ancestors"), what).toEqual(["'none'"]);
  expect(policy.has("upgrade-insecure-requests"), what).toBe(false);
  expect(res.headers.get("x-frame-options"), what).toBe("DENY");
  expect(res.headers.get("x-content-type-options"), what).toBe("nosniff");
  expect(res.headers.get("referrer-policy"), what).toBe("same-origin");
  const permissions = res.headers.get("permissions-policy") ?? "";
  for (const feature of ["camera=()", "microphone=()", "geolocation=()", "payment=()", "usb=()"])
    expect(permissions, what).toContain(feature);
  expect(res.headers.get("cross-origin-opener-policy"), what).toBe("same-origin");
  if (secure) expect(res.headers.get("strict-transport-security"), what).toBe("max-age=63072000; includeSubDomains");
  else expect(res.headers.get("strict-transport-security"), what).toBeNull();
  return nonce;
}

describe("security headers on every kind of response", () => {
  it("a page: every script in the HTML carries the header's nonce, fresh per response", async () => {
    const res = await fetch(`${base}/en/sign-in`);
    expect(res.status).toBe(200);
    const nonce = expectSecurityHeaders(res, "page");
    const html = await res.text();
    const scripts = html.match(/<script\b[^>]*>/g) ?? [];
    expect(scripts.length).toBeGreaterThan(3);
    for (const tag of scripts) expect(tag).toContain(`nonce="${nonce}"`);
    const again = expectSecurityHeaders(await fetch(`${base}/en/sign-in`), "page again");
    expect(again).not.toBe(nonce);
  });

  it("route handlers (public, 401 and an unknown /api path)", async () => {
    const health = await fetch(`${base}/api/health`);
    expect(health.status).toBe(200);
    expectSecurityHeaders(health, "/api/health");
    const me = await fetch(`${base}/api/v1/me`);
    expect(me.status).toBe(401);
    expectSecurityHeaders(me, "/api/v1/me 401");
    const ok = await fetch(`${base}/api/v1/me`, { headers: { Cookie: await sessionCookieFor(USER.email) } });
    expect(ok.status).toBe(200);
    expectSecurityHeaders(ok, "/api/v1/me 200");
    // The polled quota read runs without the proxy (its matcher skips the path) and sets the headers
    // itself, on every method and outcome, each with its own nonce.
    const QUOTAS = `${base}/api/v1/user/platform-quotas`;
    const anon = await fetch(QUOTAS);
    expect(anon.status).toBe(401);
    const n1 = expectSecurityHeaders(anon, "platform-quotas 401");
    const mine = await fetch(QUOTAS, { headers: { Cookie: await sessionCookieFor(USER.email) } });
    expect(mine.status).toBe(200);
    expect((await mine.json()).code).toBe(0);
    expect(expectSecurityHeaders(mine, "platform-quotas 200")).not.toBe(n1);
    const head = await fetch(QUOTAS, { method: "HEAD", headers: { Cookie: await sessionCookieFor(USER.email) } });
    expect(head.status).toBe(200);
    expectSecurityHeaders(head, "platform-quotas HEAD");
    for (const method of ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"]) {
      const res = await fetch(QUOTAS, { method, headers: { Cookie: await sessionCookieFor(USER.email) } });
      expect(res.status, method).toBe(405);
      expect(res.headers.get("allow"), method).toBe("GET, HEAD");
      expectSecurityHeaders(res, `platform-quotas ${method}`);
    }
    const unknown = await fetch(`${base}/api/no-such-route`);
    expect(unknown.status).toBe(404);
    expectSecurityHeaders(unknown, "/api 404");
  });

  it("a server-action POST response", async () => {
    const action = builtAction("setUserStatusAction");
    const res = await fetch(`${base}${action.page}`, {
      method: "POST",
      headers: {
        "Next-Action": action.id,
        "Content-Type": "text/plain;charset=UTF-8",
        Accept: "text/x-component",
        Origin: base,
        Cookie: await sessionCookieFor(USER.email),
      },
      body: JSON.stringify([{ userId: 1, status: "disabled" }]),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/x-component/);
    expect(await res.text()).toContain('"FORBIDDEN"'); // it really ran the action
    expectSecurityHeaders(res, "server action");
    // The helper the other suites use sees the same (positive control for the request shape).
    expect(
      (await callAction(base, action, [{ userId: 1, status: "disabled" }], await sessionCookieFor(USER.email))).body,
    ).toContain("FORBIDDEN");
  });

  it("static assets: a JS chunk, a stylesheet and the icon", async () => {
    const html = await (await fetch(`${base}/en/sign-in`)).text();
    const js = html.match(/\/_next\/static\/[^"]+\.js/)?.[0];
    const css = html.match(/\/_next\/static\/[^"]+\.css/)?.[0];
    for (const [path, type] of [
      [js, /javascript/],
      [css, /^text\/css/],
      ["/icon.svg", /^image\/svg\+xml/],
    ] as const) {
      expect(path, "asset referenced by the page").toBeTruthy();
      const res = await fetch(`${base}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get("content-type"), path).toMatch(type);
      expectSecurityHeaders(res, path!);
    }
  });

  it("404s: a localized page, a file outside any locale, a missing static chunk", async () => {
    for (const path of [
      "/en/no-such-page",
      "/zh/no-such-page",
      "/no-such-file.txt",
      "/_next/static/chunks/no-such-chunk.js",
    ]) {
      const res = await fetch(`${base}${path}`);
      expect(res.status, path).toBe(404);
      expectSecurityHeaders(res, path);
    }
  });

  it("a redirect (the locale negotiation)", async () => {
    const res = await fetch(`${base}/`, { redirect: "manual", headers: { "Accept-Language": "zh-CN" } });
    expect(res.status).toBe(307);
    expect(res.headers.get("location")).toBe("/zh");
    expectSecurityHeaders(res, "redirect");
  });

  it("without Secure cookies (COOKIE_SECURE=false, plain http): no HSTS", async () => {
    const server = await startNextServer({ ...process.env, COOKIE_SECURE: "false" }, { capture: true });
    try {
      for (const path of ["/en/sign-in", "/api/health", "/en/no-such-page"])
        expectSecurityHeaders(await fetch(`${server.baseURL}${path}`), `insecure ${path}`, false);
    } finally {
      await server.stop();
    }
  });
});

/** A page on another port of 127.0.0.1: same site as the console, a different origin. */
async function attackerSite(): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => {
    res.setHeader("Content-Type", "text/html; charset=utf-8");
    if (req.url === "/inner") res.end('<p id="inner">framed fine</p>');
    else
      res.end(
        `<h1>prize</h1><iframe id="victim" src="${base}/en/admin/users" width="1200" height="800"></iframe><iframe id="control" src="/inner"></iframe>`,
      );
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/`, close: () => new Promise((r) => server.close(() => r())) };
}

describe("framing", () => {
  it("a same-site page framing /en/admin/users with the admin's session shows nothing of it", async () => {
    const site = await attackerSite();
    const ctx = await browser.newContext({ locale: "en-US" });
    const page = await ctx.newPage();
    try {
      await page.goto(`${base}/en/sign-in`);
      await signIn(page, DEMO_ADMIN.email, DEMO_ADMIN.password);
      await page.waitForURL(`${base}/en/dashboard`);
      const framed: number[] = [];
      page.on("response", (r) => r.url() === `${base}/en/admin/users` && framed.push(r.status()));
      await page.goto(site.url);
      // Positive control: the harness frames its own page, and the console answered the framed
      // request with the admin's page (session sent) — the browser refused to show it.
      const control = await (await page.$("#control"))!.contentFrame();
      await expect.poll(() => control!.locator("#inner").textContent()).toBe("framed fine");
      await expect.poll(() => framed).toEqual([200]);
      const victim = (await (await page.$("#victim"))!.contentFrame())!;
      await victim.waitForLoadState();
      expect(victim.url()).not.toBe(`${base}/en/admin/users`);
      expect(await victim.locator("button").count()).toBe(0);
      expect(await victim.locator("table").count()).toBe(0);
      // The same page opened directly renders the table (the session is valid).
      await page.goto(`${base}/en/admin/users`);
      expect(await page.locator('tr[data-testid^="user-row-"]').count()).toBeGreaterThan(0);
    } finally {
      await ctx.close();
      await site.close();
    }
  });
});

type Violation = { directive: string; blocked: string; source: string };

/** A context that records CSP violations, console errors and uncaught errors of every page. */
async function watchedContext(locale: "en" | "zh") {
  const ctx = await browser.newContext({ locale: locale === "zh" ? "zh-CN" : "en-US" });
  const violations: Violation[] = [];
  const errors: string[] = [];
  await ctx.exposeFunction("__qcCspViolation", (v: Violation) => violations.push(v));
  await ctx.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) =>
      (window as unknown as { __qcCspViolation: (v: unknown) => void }).__qcCspViolation({
        directive: e.effectiveDirective,
        blocked: e.blockedURI,
        source: `${e.sourceFile}:${e.lineNumber}`,
      }),
    );
  });
  const page = await ctx.newPage();
  page.on("console", (m) => m.type() === "error" && errors.push(`${page.url()}: ${m.text()}`));
  page.on("pageerror", (e) => errors.push(`${page.url()}: uncaught ${e.message}`));
  return { ctx, page, violations, errors };
}

/** Navigates and waits until the page is hydrated and idle. */
async function visit(page: Page, path: string) {
  const res = await page.goto(`${base}${path}`, { waitUntil: "networkidle" });
  return res?.status();
}

describe("the console under its CSP (Chromium)", () => {
  it("the violation watch works: an injected inline handler is blocked and reported (positive control)", async () => {
    const { ctx, page, violations } = await watchedContext("en");
    await visit(page, "/en/sign-in");
    await page.evaluate(() =>
      document.body.insertAdjacentHTML("beforeend", `<img src="data:," onerror="document.title='pwned'">`),
    );
    await expect.poll(() => violations.map((v) => v.directive)).toEqual(["script-src-attr"]);
    expect(await page.title()).not.toBe("pwned");
    await ctx.close();
  });

  for (const locale of ["en", "zh"] as const) {
    it(`${locale}: sign-in (server action), every admin page, the quota modal and both confirm dialogs — no violation, no console error`, async () => {
      const { ctx, page, violations, errors } = await watchedContext(locale);
      expect(await visit(page, `/${locale}/sign-in`)).toBe(200);
      await signIn(page, DEMO_ADMIN.email, DEMO_ADMIN.password);
      await page.waitForURL(`${base}/${locale}/dashboard`);
      for (const p of ["/dashboard", "/admin/users", "/admin/settings", "/admin/cache"]) {
        expect(await visit(page, `/${locale}${p}`), p).toBe(200);
        expect(await page.locator("h1").count(), p).toBeGreaterThan(0);
      }
      // Client components hydrated and React Query fetching: the quota modal loads its data.
      await visit(page, `/${locale}/admin/users?q=bob.dev`);
      await page
        .getByRole("button", {
          name: locale === "en" ? "Platform quotas of bob.dev@example.org" : "bob.dev@example.org 的平台限额",
        })
        .click();
      const modal = page.getByRole("dialog");
      await modal.locator('[data-cell="quotas.anthropic.daily"]').waitFor();
      // Radix's dialog inserts a <style> (scroll lock) at run time: it must carry the nonce.
      await modal
        .getByRole("button", { name: locale === "en" ? "Clear All (remove all limits)" : "全部清空（取消所有限额）" })
        .click();
      await page.getByRole("alertdialog").waitFor();
      expect(await page.evaluate(() => [...document.querySelectorAll("style")].every((s) => s.nonce !== ""))).toBe(
        true,
      );
      await page.keyboard.press("Escape");
      await page.keyboard.press("Escape");
      await expect.poll(() => page.getByRole("dialog").count()).toBe(0);
      await page
        .getByRole("button", { name: locale === "en" ? "Disable bob.dev@example.org" : "禁用 bob.dev@example.org" })
        .click();
      await page.getByRole("alertdialog").waitFor();
      await page.keyboard.press("Escape");
      await expect.poll(() => page.getByRole("alertdialog").count()).toBe(0);
      await page.getByLabel(locale === "en" ? "Language" : "语言").selectOption(locale === "en" ? "zh" : "en");
      await page.waitForURL(/\/(en|zh)\/admin\/users/);
      expect(violations).toEqual([]);
      expect(errors).toEqual([]);
      await ctx.close();
    });
  }

  it("a user's dashboard: hydrated quota cards, the bar drawn from its style attribute; sign-in/register and 404 pages", async () => {
    for (const locale of ["en", "zh"] as const) {
      const { ctx, page, violations, errors } = await watchedContext(locale);
      await visit(page, `/${locale}/register`);
      expect(await visit(page, `/${locale}/no-such-page`)).toBe(404);
      expect(await visit(page, `/no-such-file.txt`)).toBe(404);
      await visit(page, `/${locale}/sign-in`);
      await signIn(page, USER.email, USER.password);
      await page.waitForURL(`${base}/${locale}/dashboard`);
      await page.waitForLoadState("networkidle");
      const bar = page.locator('[data-quota-card="anthropic"] [role="progressbar"]').first();
      expect(await bar.getAttribute("aria-valuenow")).toBe("50");
      const ratio = await bar.evaluate(
        (el) => (el.firstElementChild as HTMLElement).offsetWidth / (el as HTMLElement).offsetWidth,
      );
      expect(ratio).toBeCloseTo(0.5, 1);
      expect(violations, locale).toEqual([]);
      // The 404 documents themselves are logged as failed loads; nothing else may be.
      expect(
        errors.filter((e) => !/Failed to load resource: the server responded with a status of 404/.test(e)),
        locale,
      ).toEqual([]);
      await ctx.close();
    }
  });
});
