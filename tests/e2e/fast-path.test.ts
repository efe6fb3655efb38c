import type pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

import { SESSION_CACHE_TTL_MS } from "@/lib/auth/session-cache";
import { hashSessionToken, signSessionToken } from "@/lib/auth/token";
import { TcpProxy } from "@/scripts/lib/faults";

import { rawDb } from "../support/db";
import { startNextServer, type NextServer } from "../support/e2e-global-setup";
import { rawRequest, type RawResponse } from "../support/net";
import { COOKIE_NAME, forgedCookieFor, sessionCookieFor } from "../support/session";
import { testEnv } from "../support/test-env";

/**
 * The quota read's fast path (lib/api/fast-path.ts: scripts/serve.mjs answers
 * GET /api/v1/user/platform-quotas without Next's request handler) against Next's route for the
 * same path, case by case: the suite's server (fast path on) and a second one on the same build,
 * database and Redis with QC_FAST_PATHS=off (every request through Next). For each case the
 * status, every header but the per-response ones (Date, connection framing, the CSP's nonce) and
 * the body bytes must be equal.
 *
 * Requests go through node:http with exactly the headers given (fetch would add Accept-Encoding).
 */
const fast = inject("baseURL");
const PATH = "/api/v1/user/platform-quotas";
const USER = "e2e-fastpath@example.com";
const EMPTY = "e2e-fastpath-empty@example.com";
const ADMIN = "e2e-fastpath-admin@example.com";
let next: NextServer;
let c: pg.Client;

/** Hop-by-hop framing and the per-response values: not part of what the two paths must share. */
const FRAMING = new Set(["date", "connection", "keep-alive", "transfer-encoding", "content-length"]);

/** The headers that must be equal: names lowercased, the CSP's nonce replaced by a placeholder. */
function comparable(r: RawResponse): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.headers)) {
    if (FRAMING.has(k)) continue;
    out[k] = k === "content-security-policy" ? v.replace(/'nonce-[A-Za-z0-9+/=]+'/g, "'nonce-N'") : v;
  }
  return out;
}

/** The CSP nonce of a response (each response has its own). */
const nonceOf = (r: RawResponse) => /'nonce-([A-Za-z0-9+/=]+)'/.exec(r.headers["content-security-policy"] ?? "")?.[1];

/**
 * The fast path answered: it frames with Content-Length (for HEAD, the length GET would have), where
 * Next's route streams (chunked; nothing for HEAD).
 */
function expectFastFraming(r: RawResponse, method = "GET") {
  expect(r.headers["transfer-encoding"]).toBeUndefined();
  expect(r.headers["content-length"]).toMatch(/^[0-9]+$/);
  if (method !== "HEAD") expect(Number(r.headers["content-length"])).toBe(r.body.length);
}

/** One request to both servers; asserts the fast path answered it and that both answers are equal. */
async function both(path: string, opts: { method?: string; headers?: Record<string, string> } = {}) {
  const [f, n] = await Promise.all([rawRequest(fast, path, opts), rawRequest(next.baseURL, path, opts)]);
  const what = `${opts.method ?? "GET"} ${path} ${JSON.stringify(opts.headers ?? {})}`;
  expectFastFraming(f, opts.method);
  expect(n.headers["content-length"], `${what}: Next answered the second server`).toBeUndefined();
  expect(f.status, what).toBe(n.status);
  expect(comparable(f), what).toEqual(comparable(n));
  expect(f.body.toString("utf8"), what).toBe(n.body.toString("utf8"));
  expect(nonceOf(f), what).toMatch(/^[A-Za-z0-9+/]{22}==$/);
  return { fast: f, next: n, json: f.body.length ? JSON.parse(f.body.toString("utf8")) : null };
}

const cookie = (value: string) => ({ Cookie: value });
const idOf = async (email: string) =>
  Number((await c.query("SELECT id FROM users WHERE email = $1", [email])).rows[0].id);

beforeAll(async () => {
  c = await rawDb();
  for (const [email, role] of [
    [USER, "user"],
    [EMPTY, "user"],
    [ADMIN, "admin"],
  ])
    await c.query("INSERT INTO users (email, password_hash, role) VALUES ($1, 'x', $2)", [email, role]);
  const today = new Date();
  for (const email of [USER, ADMIN])
    await c.query(
      `INSERT INTO user_platform_quotas (user_id, platform, daily_limit_usd, weekly_limit_usd, daily_usage_usd, weekly_usage_usd, daily_window_start, weekly_window_start)
       VALUES ($1, 'anthropic', 5, 20, 1.25, 3.5, $2, $2), ($1, 'openai', NULL, 10, 0, 2, NULL, $2)`,
      [await idOf(email), today],
    );
  next = await startNextServer({ ...process.env, QC_FAST_PATHS: "off" }, { capture: true });
});
afterAll(async () => {
  await next?.stop();
  await c.query("DELETE FROM users WHERE email = ANY($1)", [[USER, EMPTY, ADMIN]]);
  await c.end();
});

describe("GET /api/v1/user/platform-quotas: the fast path answers as Next's route does", () => {
  it("200: the user's own quotas, whatever the query string or Accept-Language; HEAD without a body", async () => {
    const session = cookie(await sessionCookieFor(USER));
    const ok = await both(PATH, { headers: session });
    expect(ok.fast.status).toBe(200);
    expect(ok.fast.headers["cache-control"]).toBe("no-store, no-transform");
    expect(ok.fast.headers["content-type"]).toBe("application/json");
    expect(ok.json.code).toBe(0);
    expect(ok.json.data.platform_quotas.map((q: { platform: string }) => q.platform).sort()).toEqual([
      "anthropic",
      "openai",
    ]);
    const admin = await idOf(ADMIN);
    for (const p of [`${PATH}?user_id=${admin}&id=${admin}`, `${PATH}?`])
      expect((await both(p, { headers: session })).fast.body.equals(ok.fast.body), p).toBe(true);
    await both(PATH, { headers: { ...session, "Accept-Language": "zh-CN,zh;q=0.9" } });
    const head = await both(PATH, { method: "HEAD", headers: session });
    expect(head.fast.status).toBe(200);
    expect(head.fast.body.length).toBe(0);
    expect(Number(head.fast.headers["content-length"])).toBe(ok.fast.body.length);
    // An admin reads their own quotas here too; a user without rows gets an empty list.
    expect((await both(PATH, { headers: cookie(await sessionCookieFor(ADMIN)) })).json.code).toBe(0);
    expect((await both(PATH, { headers: cookie(await sessionCookieFor(EMPTY)) })).json.data).toEqual({
      platform_quotas: [],
    });
  });

  it("401 for every cookie that is not a live session, parsed as Next parses cookies", async () => {
    const good = await sessionCookieFor(USER);
    const value = good.slice(COOKIE_NAME.length + 1);
    const cases: Array<Record<string, string>> = [
      {},
      cookie(await forgedCookieFor(USER)),
      cookie(`${COOKIE_NAME}=garbage`),
      cookie(`${COOKIE_NAME}=`),
      cookie(`qc_session=${value}`), // the plain-http name: not the production cookie
      cookie(`${COOKIE_NAME}=${signSessionToken("no-such-token", testEnv().sessionSecret)}`),
      cookie(`${COOKIE_NAME}=${value}; ${COOKIE_NAME}=garbage`), // the last of two wins in Next's parser
      cookie(`${COOKIE_NAME}=%E0%A4%A`), // undecodable: dropped by the parser
    ];
    for (const headers of cases) {
      const r = await both(PATH, { headers });
      expect(r.fast.status, JSON.stringify(headers)).toBe(401);
      expect(r.json).toEqual({ code: 401, message: "UNAUTHENTICATED" });
    }
    // Positive controls of the parser: the first of two names, other cookies around it, percent-encoding.
    for (const headers of [
      cookie(`${COOKIE_NAME}=garbage; ${good}`),
      cookie(`a=1; ${good}; b`),
      cookie(`${COOKIE_NAME}=${encodeURIComponent(value)}`),
    ])
      expect((await both(PATH, { headers })).fast.status, JSON.stringify(headers)).toBe(200);
  });

  it("405 with Allow for every other method Next's route serves", async () => {
    const session = cookie(await sessionCookieFor(USER));
    for (const method of ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"]) {
      const r = await both(PATH, { method, headers: session });
      expect(r.fast.status, method).toBe(405);
      expect(r.fast.headers.allow, method).toBe("GET, HEAD");
      expect(r.json, method).toEqual({ code: 405, message: "METHOD_NOT_ALLOWED" });
    }
    // Methods Next's route module does not dispatch (TRACE) get Next's own plain 500 without the
    // security headers; the fast path answers them as the route answers POST.
    const trace = await rawRequest(fast, PATH, { method: "TRACE", headers: session });
    expect(trace.status).toBe(405);
    expect(trace.headers.allow).toBe("GET, HEAD");
    expect(nonceOf(trace)).toBeDefined();
    expect((await rawRequest(next.baseURL, PATH, { method: "TRACE" })).status).toBe(500);
  });

  it("a revoked session, a disabled or deleted user, an expired session: 401 on both within SESSION_CACHE_TTL_MS", async () => {
    const id = await idOf(USER);
    const expired = await sessionCookieFor(USER);
    const token = expired.slice(COOKIE_NAME.length + 1).split(".")[0];
    await c.query("UPDATE console_sessions SET expires_at = now() - interval '1 second' WHERE token_hash = $1", [
      hashSessionToken(token),
    ]);
    expect((await both(PATH, { headers: cookie(expired) })).fast.status).toBe(401);

    // Each change is made after both servers answered 200 (so each may hold the session in its
    // cache); an entry is at most SESSION_CACHE_TTL_MS old when used, so once that much time has
    // passed since the change, both must read the database and refuse.
    const changes: Array<[string, string, string]> = [
      ["revoked", "DELETE FROM console_sessions WHERE user_id = $1", "SELECT $1::bigint"],
      [
        "disabled",
        "UPDATE users SET status = 'disabled' WHERE id = $1",
        "UPDATE users SET status = 'active' WHERE id = $1",
      ],
      [
        "deleted",
        "UPDATE users SET deleted_at = now() WHERE id = $1",
        "UPDATE users SET deleted_at = NULL WHERE id = $1",
      ],
    ];
    for (const [what, change, undo] of changes) {
      const session = cookie(await sessionCookieFor(USER));
      expect((await both(PATH, { headers: session })).fast.status, what).toBe(200);
      await c.query(change, [id]);
      await new Promise((r) => setTimeout(r, SESSION_CACHE_TTL_MS));
      const r = await both(PATH, { headers: session });
      expect(r.fast.status, what).toBe(401);
      expect(r.json, what).toEqual({ code: 401, message: "UNAUTHENTICATED" });
      await c.query(undo, [id]);
    }
  });

  it("other spellings of the path are not the fast path's: Next answers them on both servers", async () => {
    const session = cookie(await sessionCookieFor(USER));
    for (const p of [`${PATH}/`, "/api/v1/user/platform-quotas%2F", "/API/v1/user/platform-quotas"]) {
      const [f, n] = await Promise.all([
        rawRequest(fast, p, { headers: session }),
        rawRequest(next.baseURL, p, { headers: session }),
      ]);
      expect(f.status, p).toBe(n.status);
      expect(f.headers["content-length"], p).toBe(n.headers["content-length"]);
      expect(f.status, p).not.toBe(200);
    }
  });
});

describe("PostgreSQL unavailable", () => {
  let proxy: TcpProxy;
  let servers: NextServer[] = [];
  beforeAll(async () => {
    // Both servers reach the database through a TCP proxy that is then made to refuse.
    const u = new URL(testEnv().databaseUrl);
    proxy = await TcpProxy.start({ targetHost: u.hostname, targetPort: Number(u.port || 5432) });
    u.port = String(proxy.port);
    const env = { ...process.env, DATABASE_URL: u.toString(), QC_REPAIRER: "off" };
    servers = await Promise.all([
      startNextServer(env, { capture: true }),
      startNextServer({ ...env, QC_FAST_PATHS: "off" }, { capture: true }),
    ]);
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await proxy?.close();
  });

  it("503 SERVICE_UNAVAILABLE with Retry-After on both; 401 without a cookie (no database needed)", async () => {
    const session = cookie(await sessionCookieFor(USER));
    const [f0] = await Promise.all(servers.map((s) => rawRequest(s.baseURL, PATH, { headers: session })));
    expectFastFraming(f0); // positive control: healthy, and the fast path answers on the first server
    expect(f0.status).toBe(200);
    proxy.cut();
    await proxy.refuse();
    const [f, n] = await Promise.all(servers.map((s) => rawRequest(s.baseURL, PATH, { headers: session })));
    expectFastFraming(f);
    expect(f.status).toBe(503);
    expect(comparable(f)).toEqual(comparable(n));
    expect(f.body.toString()).toBe(n.body.toString());
    expect(JSON.parse(f.body.toString())).toEqual({
      code: 503,
      message: "SERVICE_UNAVAILABLE",
      reason: "BACKEND_UNAVAILABLE",
    });
    expect(f.headers["retry-after"]).toBe("5");
    const [fa, na] = await Promise.all(servers.map((s) => rawRequest(s.baseURL, PATH)));
    expect(fa.status).toBe(401);
    expect(comparable(fa)).toEqual(comparable(na));
  });
});
