import fs from "node:fs";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { DEMO_ADMIN } from "@/lib/seed/demo";
import { builtActions, callAction as call, type BuiltAction } from "../support/actions";
import { rawDb } from "../support/db";
import { BOOTSTRAP_ADMIN, E2E_METRICS_TOKEN } from "../support/e2e-global-setup";
import { forgedCookieFor, sessionCookieFor } from "../support/session";
import { testEnv } from "../support/test-env";

/**
 * Authorization at the HTTP boundary of the production build: every page, route handler and
 * server action is found from Next's build manifests, so a new one is covered without editing
 * this file. Each negative case sits next to a positive control.
 */
const base = inject("baseURL");
const PUBLIC_ACTIONS = new Set(["signInAction", "registerAction"]); // create the session; throttled instead
const PUBLIC_ROUTES = new Set(["/api/health"]); // load-balancer probe, reveals only up/down
// Token-protected, not session-protected: 401 without `Authorization: Bearer $METRICS_TOKEN` (the
// e2e server sets one), 404 when METRICS_TOKEN is unset (tests/e2e/api-errors.test.ts).
const TOKEN_ROUTES = new Set(["/api/metrics"]);

const appPaths = Object.keys(JSON.parse(fs.readFileSync(".next/server/app-paths-manifest.json", "utf8")) as Record<string, string>);
const pages = appPaths
  .filter((p) => p.endsWith("/page") && p.startsWith("/[locale]") && !p.includes("[...rest]") && !p.includes("sign-in") && !p.includes("register"))
  .map((p) => p.replace(/\/page$/, "").replace("[locale]", "en").replace(/\/\([^)]+\)/g, "") || "/en");
const apiRoutes = appPaths.filter((p) => p.startsWith("/api/") && p.endsWith("/route")).map((p) => p.replace(/\/route$/, ""));
const actions = builtActions();
const callAction = (action: BuiltAction, args: unknown[], cookie?: string) => call(base, action, args, cookie);

let c: pg.Client;
let adminCookie: string;
let userCookie: string;
let targetId: string;
const statusOf = async (id: string) => (await c.query("SELECT status FROM users WHERE id = $1", [id])).rows[0].status;

beforeAll(async () => {
  c = await rawDb();
  adminCookie = await sessionCookieFor(DEMO_ADMIN.email);
  userCookie = await sessionCookieFor("alice@example.com");
  targetId = (await c.query("SELECT id FROM users WHERE email = 'bob.dev@example.org'")).rows[0].id;
});
afterAll(async () => {
  await c.query("UPDATE users SET status = 'active' WHERE id = $1", [targetId]);
  await c.end();
});

describe("pages", () => {
  it("the build has the pages this test expects to protect", () => {
    expect(pages).toEqual(expect.arrayContaining(["/en", "/en/dashboard", "/en/admin/users", "/en/admin/settings"]));
  });

  it.each(pages)("%s redirects an anonymous visitor to sign-in", async (p) => {
    const res = await fetch(`${base}${p}`, { redirect: "manual" });
    expect(res.status).toBe(307);
    expect(res.headers.get("location")).toMatch(/\/en\/sign-in$/);
  });

  it.each(pages)("%s renders for an admin (positive control)", async (p) => {
    const res = await fetch(`${base}${p}`, { redirect: "manual", headers: { Cookie: adminCookie } });
    expect(p === "/en" ? 307 : 200).toBe(res.status);
  });

  it("admin pages answer 403 to a signed-in user, and the dashboard 200", async () => {
    for (const p of pages.filter((x) => x.startsWith("/en/admin"))) {
      const res = await fetch(`${base}${p}`, { redirect: "manual", headers: { Cookie: userCookie } });
      expect(res.status, p).toBe(403);
      expect(await res.text()).toContain("Access denied");
    }
    const ok = await fetch(`${base}/en/dashboard`, { headers: { Cookie: userCookie } });
    expect(ok.status).toBe(200);
    expect(await ok.text()).not.toContain('data-testid="admin-menu"');
  });

  // Guards against trusting a cookie whose MAC does not verify (forged with another key).
  it("a tampered session cookie is treated as no session", async () => {
    const forged = await forgedCookieFor(DEMO_ADMIN.email);
    const res = await fetch(`${base}/en/admin/users`, { redirect: "manual", headers: { Cookie: forged } });
    expect(res.status).toBe(307);
    const api = await fetch(`${base}/api/v1/me`, { headers: { Cookie: forged } });
    expect(api.status).toBe(401);
  });
});

describe("not found", () => {
  it("unknown pages answer a localized 404", async () => {
    for (const [p, text] of [
      ["/en/no-such-page", "Page not found"],
      ["/zh/no/such/page", "页面不存在"],
    ]) {
      const res = await fetch(`${base}${p}`);
      expect(res.status, p).toBe(404);
      expect(await res.text()).toContain(text);
    }
  });
});

describe("bootstrap admin", () => {
  it("is created from ADMIN_EMAIL / ADMIN_PASSWORD when the server starts", async () => {
    const { rows } = await c.query("SELECT role, status FROM users WHERE email = $1", [BOOTSTRAP_ADMIN.email]);
    expect(rows).toEqual([{ role: "admin", status: "active" }]);
  });
});

describe("route handlers", () => {
  it.each(apiRoutes.filter((r) => !PUBLIC_ROUTES.has(r)))("GET %s answers 401 without a session (or token)", async (r) => {
    const res = await fetch(`${base}${r}`);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ code: 401, message: "UNAUTHENTICATED" });
  });

  it("the build has the route handlers this test expects to protect", () => {
    expect(apiRoutes).toEqual(expect.arrayContaining(["/api/v1/me", "/api/v1/user/platform-quotas", ...TOKEN_ROUTES]));
  });

  it("GET /api/v1/me returns the session's own user and no secrets (positive control)", async () => {
    const res = await fetch(`${base}/api/v1/me?id=1&user_id=1`, { headers: { Cookie: userCookie } });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(JSON.parse(text).data.email).toBe("alice@example.com");
    expect(text).not.toMatch(/password|hash|\$2a\$/i);
  });

  it("GET /api/health is public and reports database and Redis", async () => {
    const res = await fetch(`${base}/api/health`);
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({ status: "ok", database: { status: "up" }, redis: { status: "up" } });
    expect(JSON.stringify(body)).not.toMatch(/postgres|redis:\/\/|127\.0\.0\.1/);
  });
});

// Operators' scrape endpoint: the bearer token is the only key. A session (even an admin's) must not
// open it, a wrong or differently-presented token must not either, and the scrape must not leak
// configuration.
describe("GET /api/metrics (bearer token)", () => {
  const url = `${base}/api/metrics`;
  const expect401 = async (res: Response, what: string) => {
    expect(res.status, what).toBe(401);
    expect(res.headers.get("www-authenticate"), what).toBe("Bearer");
    expect(await res.json(), what).toEqual({ code: 401, message: "UNAUTHENTICATED" });
  };

  it("refuses no token, a session, a wrong token, another scheme and the token in the query", async () => {
    await expect401(await fetch(url), "no token");
    await expect401(await fetch(url, { headers: { Cookie: adminCookie } }), "admin session");
    await expect401(await fetch(url, { headers: { Authorization: `Bearer ${E2E_METRICS_TOKEN.slice(0, -1)}x` } }), "same length, wrong");
    await expect401(await fetch(url, { headers: { Authorization: `Bearer ${E2E_METRICS_TOKEN}0` } }), "longer");
    await expect401(await fetch(url, { headers: { Authorization: `Bearer ${testEnv().sessionSecret}` } }), "session secret");
    const basic = Buffer.from(`metrics:${E2E_METRICS_TOKEN}`).toString("base64");
    await expect401(await fetch(url, { headers: { Authorization: `Basic ${basic}` } }), "basic");
    await expect401(await fetch(`${url}?token=${E2E_METRICS_TOKEN}`), "query");
  });

  it("serves Prometheus text to the right token, with no secrets or hosts (positive control)", async () => {
    const res = await fetch(url, { headers: { Authorization: `Bearer ${E2E_METRICS_TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    expect(res.headers.get("cache-control")).toBe("no-store");
    const text = await res.text();
    expect(text).toContain("# TYPE qc_billing_checks_total counter");
    expect(text).toMatch(/^qc_billing_checks_total\{source="cache"\} \d+$/m);
    expect(text).toMatch(/^qc_billing_ledger_readable\{store="redis"\} 1$/m);
    expect(text).toContain("qc_signup_defaults_fallbacks_total");
    expect(text).toContain("qc_process_cpu_seconds_total");
    const env = testEnv();
    for (const secret of [E2E_METRICS_TOKEN, env.sessionSecret, env.databaseUrl, env.redisUrl, BOOTSTRAP_ADMIN.email, "127.0.0.1", "postgresql://"]) {
      expect(text.includes(secret), `scrape contains ${secret}`).toBe(false);
    }
  });
});

describe("server actions", () => {
  it("the build registers the guarded actions", () => {
    expect(actions.map((a) => a.name)).toEqual(expect.arrayContaining(["signInAction", "signOutAction", "setUserStatusAction"]));
  });

  it.each(actions.filter((a) => !PUBLIC_ACTIONS.has(a.name)).map((a) => [a.name, a] as const))(
    "%s refuses an anonymous caller",
    async (_name, action) => {
      const r = await callAction(action, [{ userId: Number(targetId), status: "disabled", locale: "en" }]);
      expect(r.contentType).toBe("text/x-component");
      expect(r.body).toContain('"code":"UNAUTHENTICATED"');
      expect(await statusOf(targetId)).toBe("active");
    },
  );

  // A user's session must not reach an admin action: the check is inside the action itself.
  it("setUserStatusAction: a user's session is FORBIDDEN and nothing changes; an admin's works", async () => {
    const id = actions.find((a) => a.name === "setUserStatusAction")!;
    const denied = await callAction(id, [{ userId: Number(targetId), status: "disabled" }], userCookie);
    expect(denied.body).toContain('"code":"FORBIDDEN"');
    expect(await statusOf(targetId)).toBe("active");

    const allowed = await callAction(id, [{ userId: Number(targetId), status: "disabled" }], adminCookie);
    expect(allowed.body).toContain('"ok":true');
    expect(await statusOf(targetId)).toBe("disabled");
    await callAction(id, [{ userId: Number(targetId), status: "active" }], adminCookie);
    expect(await statusOf(targetId)).toBe("active");
  });

  it("setUserStatusAction: bad input is INVALID_INPUT with field codes; unknown id is NOT_FOUND", async () => {
    const id = actions.find((a) => a.name === "setUserStatusAction")!;
    const bad = await callAction(id, [{ userId: "1; drop table users", status: "gone" }], adminCookie);
    expect(bad.body).toContain('"code":"INVALID_INPUT"');
    expect(bad.body).toContain('"status":["INVALID_STATUS"]');
    const missing = await callAction(id, [{ userId: 99999999, status: "disabled" }], adminCookie);
    expect(missing.body).toContain('"code":"NOT_FOUND"');
  });
});
