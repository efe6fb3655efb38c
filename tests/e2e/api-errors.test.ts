import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { PG_TIMEOUTS } from "@/lib/billing/connections";
import { TcpProxy } from "@/scripts/lib/faults";

import { startNextServer, type NextServer } from "../support/e2e-global-setup";
import { sessionCookieFor } from "../support/session";
import { testEnv } from "../support/test-env";

/**
 * A real database outage at the HTTP boundary of the production build: a second `next start`
 * whose DATABASE_URL goes through a TCP proxy that can hang, refuse and cut PostgreSQL. Route
 * handlers must answer the 503 JSON envelope (never Next's empty 500, never a request that hangs)
 * within the pool's bounds (lib/billing/connections.ts PG_TIMEOUTS), pages must fail to the error
 * page within the same bounds, and everything must work again once the database answers. This
 * server has no METRICS_TOKEN, so it also shows that /api/metrics does not exist then.
 */
const UNAVAILABLE = { code: 503, message: "SERVICE_UNAVAILABLE", reason: "BACKEND_UNAVAILABLE" };
/** The longest a request may wait on a hung database: connect timeout + query timeout, plus slack. */
const BOUND_MS = PG_TIMEOUTS.connectionTimeoutMillis + PG_TIMEOUTS.query_timeout + 2000;

let proxy: TcpProxy;
let server: NextServer;
let cookie: string;

async function timed(path: string, headers: Record<string, string> = {}) {
  const t0 = performance.now();
  const res = await fetch(`${server.baseURL}${path}`, {
    headers,
    redirect: "manual",
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  return { res, text, ms: Math.round(performance.now() - t0) };
}

async function expectUnavailable(what: string, maxMs: number) {
  const { res, text, ms } = await timed("/api/v1/me", { Cookie: cookie });
  console.log(`[api-errors] ${what}: ${res.status} in ${ms} ms ${text}`);
  expect(res.status, what).toBe(503);
  expect(res.headers.get("content-type"), what).toMatch(/^application\/json/);
  expect(res.headers.get("retry-after"), what).toBe("5");
  expect(JSON.parse(text), what).toEqual(UNAVAILABLE);
  expect(ms, what).toBeLessThan(maxMs);
  return ms;
}

beforeAll(async () => {
  const u = new URL(testEnv().databaseUrl);
  proxy = await TcpProxy.start({ targetHost: u.hostname, targetPort: Number(u.port || 5432) });
  u.port = String(proxy.port);
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: u.toString(), QC_REPAIRER: "off" };
  for (const k of ["REDIS_URL", "METRICS_TOKEN", "ADMIN_EMAIL", "ADMIN_PASSWORD"]) delete env[k];
  server = await startNextServer(env, { capture: true });
  cookie = await sessionCookieFor("alice@example.com");
});
afterAll(async () => {
  await server?.stop();
  await proxy?.close();
});

describe("route handlers and pages while PostgreSQL fails", () => {
  it("healthy through the proxy: the session's user (positive control); /api/metrics does not exist without METRICS_TOKEN", async () => {
    const me = await timed("/api/v1/me", { Cookie: cookie });
    expect(me.res.status).toBe(200);
    expect(JSON.parse(me.text).data.email).toBe("alice@example.com");
    const metrics = await timed("/api/metrics", { Authorization: "Bearer anything-anything-anything" });
    expect(metrics.res.status).toBe(404);
    expect(JSON.parse(metrics.text)).toEqual({ code: 404, message: "NOT_FOUND" });
  });

  it("hung after connect (pooled connections stall): 503 envelope within the query timeout; health 503; the page fails to the error page", async () => {
    await timed("/api/v1/me", { Cookie: cookie }); // a warm pooled connection
    await proxy.pause();
    await expectUnavailable("hung, pooled connection", BOUND_MS);

    const health = await timed("/api/health");
    console.log(`[api-errors] health while hung: ${health.res.status} in ${health.ms} ms`);
    expect(health.res.status).toBe(503);
    expect(JSON.parse(health.text)).toMatchObject({ status: "down", database: { status: "down" } });
    expect(health.ms).toBeLessThan(4000);

    const page = await timed("/en/dashboard", { Cookie: cookie });
    console.log(`[api-errors] page while hung: ${page.res.status} in ${page.ms} ms`);
    expect(page.ms).toBeLessThan(BOUND_MS);
    expect(page.res.status).toBe(500);
    expect(page.text).toContain("Something went wrong"); // app/[locale]/error.tsx
    expect(page.text).not.toMatch(/Query read timeout|Connection terminated|ECONNREFUSED|127\.0\.0\.1/);
  });

  it("refused (connections cut, port closed): 503 envelope at once", async () => {
    proxy.cut();
    await proxy.refuse();
    await expectUnavailable("refused", 2000);
  });

  it("hung for new connections (accepts, never answers): 503 envelope within the connect timeout", async () => {
    await proxy.pause();
    const ms = await expectUnavailable("hung, new connection", BOUND_MS);
    expect(ms).toBeGreaterThanOrEqual(PG_TIMEOUTS.connectionTimeoutMillis - 500);
  });

  it("recovers once the database answers again", async () => {
    proxy.cut();
    await proxy.pass();
    const me = await timed("/api/v1/me", { Cookie: cookie });
    expect(me.res.status).toBe(200);
    expect(JSON.parse(me.text).data.email).toBe("alice@example.com");
  });

  it("logs one line per refused request, with the route and no stack", () => {
    const lines = server
      .output()
      .split("\n")
      .filter((l) => l.includes("[api] GET /api/v1/me: backend unavailable"));
    expect(lines.length).toBeGreaterThanOrEqual(3);
    expect(server.output()).not.toContain("unexpected error");
  });
});
