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

const appPaths = Object.keys(
  JSON.parse(fs.readFileSync(".next/server/app-paths-manifest.json", "utf8")) as Record<string, string>,
);
const pages = appPaths
  .filter(
    (p) =>
      p.endsWith("/page") &&
      p.startsWith("/[locale]") &&
      !p.includes("[...rest]") &&
      !p.includes("sign-in") &&
      !p.includes("register"),
  )
  .map(
    (p) =>
      p
        .replace(/\/page$/, "")
        .replace("[locale]", "en")
        .replace(/\/\([^)]+\)/g, "") || "/en",
  );
const apiRoutes = appPaths
  .filter((p) => p.startsWith("/api/") && p.endsWith("/route"))
  .map((p) => p.replace(/\/route$/, ""));
const actions = builtActions();
const callAction = (action: BuiltAction, args: unknown[] | string, cookie?: string) => call(base, action, args, cookie);

/**
 * The role each action declares in its source (`export const x = guardedAction({ role: … })`); null
 * when the export is not a guarded action. Read from the file the manifest names, so a new action is
 * classified without editing this test.
 */
function declaredRole(action: BuiltAction): "admin" | "user" | null {
  const src = fs.readFileSync(action.file, "utf8");
  const m = new RegExp(`export const ${action.name} = guardedAction\\(\\{\\s*role: "(admin|user)"`).exec(src);
  return m ? (m[1] as "admin" | "user") : null;
}
/**
 * Same for route handlers: `export const GET = guardedRoute("admin" | "user", …)`, also inside the
 * security-header wrapper of routes the proxy skips (`withSecurityHeaders(guardedRoute(…))`).
 */
function declaredRouteRole(route: string): "admin" | "user" | null {
  const src = fs.readFileSync(`app${route}/route.ts`, "utf8");
  const m = /export const GET = (?:withSecurityHeaders\(\s*)?guardedRoute\(\s*"(admin|user)"/.exec(src);
  return m ? (m[1] as "admin" | "user") : null;
}
const adminActions = actions.filter((a) => declaredRole(a) === "admin");

/**
 * Bodies a caller can send an action: one that would pass its schema (where we know the action),
 * and empty, missing, garbage and non-object arguments. Each is what React's reply encoding sends
 * for that argument list.
 */
function bodies(action: BuiltAction): Array<[string, unknown[]]> {
  const id = Number(targetId);
  const valid: Record<string, unknown> = {
    setUserStatusAction: { userId: id, status: "disabled" },
    setUserRoleAction: { userId: id, role: "admin" },
    saveUserPlatformQuotasAction: {
      userId: id,
      version: "0.0",
      quotas: { openai: { daily: 1, weekly: null, monthly: null } },
    },
    resetUserPlatformQuotaWindowAction: { userId: id, platform: "openai", window: "daily" },
    repairDriftKeyAction: { userId: id, platform: "openai" },
    runDriftCheckAction: {},
    repairAllDriftAction: {},
  };
  return [
    ...(action.name in valid ? ([["valid-looking", [valid[action.name]]]] as Array<[string, unknown[]]>) : []),
    ["empty object", [{}]],
    ["no argument", []],
    [
      "wrong types",
      [{ userId: "1; drop table users", status: "gone", role: 7, quotas: "x".repeat(2000), version: null }],
    ],
    ["string", ["garbage"]],
    ["number", [42]],
    ["null", [null]],
    ["array", [[1, 2, 3]]],
    ["two arguments", [{}, "extra"]],
  ];
}

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
    expect(res.status).toBe(p === "/en" ? 307 : 200);
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
  it.each(apiRoutes.filter((r) => !PUBLIC_ROUTES.has(r)))(
    "GET %s answers 401 without a session (or token)",
    async (r) => {
      const res = await fetch(`${base}${r}`);
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ code: 401, message: "UNAUTHENTICATED" });
    },
  );

  it("the build has the route handlers this test expects to protect", () => {
    expect(apiRoutes).toEqual(expect.arrayContaining(["/api/v1/me", "/api/v1/user/platform-quotas", ...TOKEN_ROUTES]));
  });

  it("every session route is a guardedRoute with a declared role (authorization before any parsing)", () => {
    const session = apiRoutes.filter((r) => !PUBLIC_ROUTES.has(r) && !TOKEN_ROUTES.has(r));
    for (const r of session) expect(declaredRouteRole(r), r).not.toBeNull();
    expect(session.filter((r) => declaredRouteRole(r) === "admin")).toEqual(
      expect.arrayContaining(["/api/v1/admin/users/[id]/platform-quotas", "/api/v1/admin/cache/status"]),
    );
  });

  // Role before parsing for routes too: whatever the path parameters and query, a user's session
  // gets 403 from an admin route and an anonymous caller 401 — never a 400/404 about the input.
  it.each(apiRoutes.filter((r) => declaredRouteRole(r) === "admin"))(
    "GET %s: 403 for a user and 401 anonymously whatever the parameters",
    async (r) => {
      // Not "%E0%A4%A" (malformed percent-encoding): Next answers its own plain 500 for any such path
      // before a route or the proxy runs (vercel/next.js#94278), so no handler code is reached.
      const values = ["1", "abc", "0", "-1", "99999999999999999999", "%00", "%25", "1.5", "1%2F..%2F2"];
      const urls = r.includes("[") ? values.map((v) => r.replace(/\[[^\]]+\]/g, v)) : [r];
      for (const u of urls.flatMap((x) => [x, `${x}?id=abc&user_id=%00&q=${"x".repeat(500)}`])) {
        const user = await fetch(`${base}${u}`, { headers: { Cookie: userCookie } });
        expect(user.status, u).toBe(403);
        expect(await user.json(), u).toEqual({ code: 403, message: "FORBIDDEN" });
        const anon = await fetch(`${base}${u}`);
        expect(anon.status, u).toBe(401);
        expect(await anon.json(), u).toEqual({ code: 401, message: "UNAUTHENTICATED" });
      }
    },
  );

  it("the admin read route parses its id only for an admin (positive control)", async () => {
    const res = await fetch(`${base}/api/v1/admin/users/abc/platform-quotas`, { headers: { Cookie: adminCookie } });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ code: 400, message: "invalid user id" });
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
    await expect401(
      await fetch(url, { headers: { Authorization: `Bearer ${E2E_METRICS_TOKEN.slice(0, -1)}x` } }),
      "same length, wrong",
    );
    await expect401(await fetch(url, { headers: { Authorization: `Bearer ${E2E_METRICS_TOKEN}0` } }), "longer");
    await expect401(
      await fetch(url, { headers: { Authorization: `Bearer ${testEnv().sessionSecret}` } }),
      "session secret",
    );
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
    for (const secret of [
      E2E_METRICS_TOKEN,
      env.sessionSecret,
      env.databaseUrl,
      env.redisUrl,
      BOOTSTRAP_ADMIN.email,
      "127.0.0.1",
      "postgresql://",
    ]) {
      expect(text.includes(secret), `scrape contains ${secret}`).toBe(false);
    }
  });
});

describe("server actions", () => {
  it("the build registers the guarded actions", () => {
    expect(actions.map((a) => a.name)).toEqual(
      expect.arrayContaining(["signInAction", "signOutAction", "setUserStatusAction"]),
    );
  });

  it("every action but sign-in and registration is a guardedAction with a declared role", () => {
    for (const a of actions)
      expect(PUBLIC_ACTIONS.has(a.name) ? "public" : declaredRole(a), `${a.name} in ${a.file}`).not.toBeNull();
    expect(adminActions.map((a) => a.name)).toEqual(
      expect.arrayContaining([
        "setUserStatusAction",
        "setUserRoleAction",
        "saveUserPlatformQuotasAction",
        "resetUserPlatformQuotaWindowAction",
        "saveQuotaDefaultsAction",
      ]),
    );
  });

  it.each(actions.filter((a) => !PUBLIC_ACTIONS.has(a.name)).map((a) => [a.name, a] as const))(
    "%s refuses an anonymous caller whatever it sends",
    async (_name, action) => {
      for (const [what, body] of bodies(action)) {
        const r = await callAction(action, body);
        expect(r.contentType, what).toBe("text/x-component");
        expect(r.body, what).toBe('{"ok":false,"code":"UNAUTHENTICATED"}');
      }
      expect(await c.query("SELECT role, status FROM users WHERE id = $1", [targetId]).then((q) => q.rows[0])).toEqual({
        role: "user",
        status: "active",
      });
    },
  );

  // Issue 10 §7: parsing ran before the role check, so a user's session learned each admin
  // action's input rules (field errors) by sending it anything. Role first: FORBIDDEN, always.
  it.each(adminActions.map((a) => [a.name, a] as const))(
    "%s is FORBIDDEN to a signed-in user whatever it sends, and parses for an admin",
    async (_name, action) => {
      const before = await c.query(
        "SELECT (SELECT count(*) FROM console_audit_logs)::int AS audits, (SELECT role || status FROM users WHERE id = $1) AS target",
        [targetId],
      );
      for (const [what, body] of bodies(action)) {
        const r = await callAction(action, body, userCookie);
        expect(r.contentType, what).toBe("text/x-component");
        expect(r.body, what).toBe('{"ok":false,"code":"FORBIDDEN"}');
      }
      expect(
        (
          await c.query(
            "SELECT (SELECT count(*) FROM console_audit_logs)::int AS audits, (SELECT role || status FROM users WHERE id = $1) AS target",
            [targetId],
          )
        ).rows,
      ).toEqual(before.rows);
      // Bodies React cannot decode never reach an action at all (Next answers 500 with an error digest
      // only): no input rule leaks and nothing changes either.
      for (const raw of ["this is not json", "", "[", '"$@1"']) {
        const r = await callAction(action, raw, userCookie);
        expect(r.raw, JSON.stringify(raw)).not.toMatch(/INVALID_INPUT|fieldErrors|"ok":true/);
        if (r.status === 500) expect(r.body, JSON.stringify(raw)).toMatch(/^E\{"digest":"\d+"\}$/);
        else expect(r.body, JSON.stringify(raw)).toBe('{"ok":false,"code":"FORBIDDEN"}');
      }
      expect(
        (
          await c.query(
            "SELECT (SELECT count(*) FROM console_audit_logs)::int AS audits, (SELECT role || status FROM users WHERE id = $1) AS target",
            [targetId],
          )
        ).rows,
      ).toEqual(before.rows);
      // Positive control: the same garbage from an admin is rejected by the parser, i.e. the user's
      // FORBIDDEN above came from the role check, not from the input.
      for (const body of [["garbage"], [42], [[1, 2, 3]]]) {
        const r = await callAction(action, body, adminCookie);
        expect(r.body, JSON.stringify(body)).toContain('"code":"INVALID_INPUT"');
      }
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
