import { PrismaPg } from "@prisma/adapter-pg";
import Redis from "ioredis";
import pg, { type Client } from "pg";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { isBackendUnavailable } from "@/lib/api/errors";
import { registerBillingMetrics } from "@/lib/billing/prometheus";
import { PrismaClient } from "@/lib/generated/prisma/client";
import { blackholeServer, TcpProxy } from "@/scripts/lib/faults";

import { createUsers, deleteUsers, rawDb } from "../support/billing";
import { makeBilling } from "../support/billing-runtime";
import { testEnv } from "../support/test-env";

/**
 * Operator-facing failure signals against the real servers: the billing metrics a scrape shows
 * after real checks and recordings (and while Redis is unreachable), the console's /api/metrics
 * handler, and the route classifier (lib/api/errors.ts) on errors only a live PostgreSQL produces
 * (statement timeout, terminated backend, constraint violations that must stay 500s).
 */
let c: Client;
const users: number[] = [];
const L = { daily: 1, weekly: null, monthly: null };

function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

async function quotaUser(): Promise<number> {
  const [id] = await createUsers(c, "metrics", 1);
  users.push(id);
  const b = makeBilling({ redisUrl: null });
  await b.repo.upsertForUser(id, [{ platform: "anthropic", limits: L }]);
  await b.close();
  return id;
}

const caught = async (p: Promise<unknown>): Promise<unknown> => {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected a rejection");
};

beforeAll(async () => {
  c = await rawDb();
});
afterAll(async () => {
  await deleteUsers(c, users);
  await c.end();
});

describe("billing metrics on a real runtime", () => {
  it("checks by source, blocked requests, usage ops and the ledger gauges", async () => {
    const b = makeBilling();
    const registry = new Registry();
    registerBillingMetrics(registry, () => b);
    const u = await quotaUser();
    try {
      await b.redis!.del(`billing:upq:${u}:anthropic`);
      expect((await b.service.checkUserPlatformQuotaEligibility(u, "anthropic")).allowed).toBe(true);
      expect((await b.service.checkUserPlatformQuotaEligibility(u, "anthropic")).source).toBe("cache");
      await b.service.recordUsage({ userId: u, platform: "anthropic", cost: 2 });
      await b.repairer.settleAll();
      expect((await b.service.checkUserPlatformQuotaEligibility(u, "anthropic")).allowed).toBe(false);

      const s = samples(await registry.metrics());
      expect(s.get('qc_billing_checks_total{source="database"}')).toBe(1);
      expect(s.get('qc_billing_checks_total{source="cache"}')).toBe(2);
      expect(s.get("qc_billing_blocked_total")).toBe(1);
      expect(s.get('qc_billing_usage_ops_total{stage="accepted"}')).toBe(1);
      expect(s.get("qc_billing_rebuilds_total")).toBeGreaterThanOrEqual(1);
      expect(s.get('qc_billing_ledger_readable{store="redis"}')).toBe(1);
      expect(s.get('qc_billing_ledger_readable{store="postgres"}')).toBe(1);
      expect(s.get("qc_billing_journal_ops")).toBe(0);
      expect(s.get("qc_billing_outbox_overdue_rows")).toBeGreaterThanOrEqual(0);
    } finally {
      await b.close();
    }
  });

  it("Redis unreachable: read errors and the no-cache source are counted, Redis gauges drop out, the scrape stays fast", async () => {
    const hole = await blackholeServer();
    const b = makeBilling({ redisUrl: `redis://127.0.0.1:${hole.port}` });
    const registry = new Registry();
    registerBillingMetrics(registry, () => b, { ledgerTimeoutMs: 1500 });
    const u = await quotaUser();
    try {
      expect((await b.service.checkUserPlatformQuotaEligibility(u, "anthropic")).allowed).toBe(true);
      const t0 = performance.now();
      const s = samples(await registry.metrics());
      expect(performance.now() - t0).toBeLessThan(2500);
      expect(s.get('qc_billing_redis_errors_total{op="read"}')).toBeGreaterThanOrEqual(1);
      expect(s.get('qc_billing_checks_total{source="database-no-cache"}')).toBe(1);
      expect(s.has("qc_billing_dirty_keys")).toBe(false);
      expect(s.get('qc_billing_ledger_readable{store="redis"}')).toBe(0);
      expect(s.get('qc_billing_ledger_readable{store="postgres"}')).toBe(1);
    } finally {
      await b.close();
      await hole.close();
    }
  });

  it("PostgreSQL hung: the outbox drops out, the Redis part (journal, dirty set) stays, the scrape stays fast", async () => {
    const u = new URL(testEnv().databaseUrl);
    const proxy = await TcpProxy.start({ targetHost: u.hostname, targetPort: Number(u.port || 5432) });
    u.port = String(proxy.port);
    const b = makeBilling({ databaseUrl: u.toString() });
    const registry = new Registry();
    registerBillingMetrics(registry, () => b, { ledgerTimeoutMs: 1000 });
    try {
      expect(samples(await registry.metrics()).get('qc_billing_ledger_readable{store="postgres"}')).toBe(1);
      await proxy.pause();
      const t0 = performance.now();
      const s = samples(await registry.metrics());
      expect(performance.now() - t0).toBeLessThan(2000);
      expect(s.get('qc_billing_ledger_readable{store="postgres"}')).toBe(0);
      expect(s.has("qc_billing_outbox_rows")).toBe(false);
      expect(s.get('qc_billing_ledger_readable{store="redis"}')).toBe(1);
      expect(s.get("qc_billing_journal_ops")).toBe(0);
    } finally {
      proxy.cut();
      await proxy.pass();
      await b.close();
      await proxy.close();
    }
  });
});

describe("the console's /api/metrics handler", () => {
  const token = "integration-metrics-token-0123456789";

  it("401 without the token, 200 Prometheus text with it; nothing secret in the scrape", async () => {
    process.env.METRICS_TOKEN = token;
    process.env.QC_REPAIRER = "off";
    const { GET } = await import("@/app/api/metrics/route");
    const url = "http://console.test/api/metrics";
    const denied = await GET(new Request(url, { headers: { Authorization: "Bearer wrong-token-wrong-token" } }));
    expect(denied.status).toBe(401);
    expect(denied.headers.get("www-authenticate")).toBe("Bearer");
    expect(await denied.json()).toEqual({ code: 401, message: "UNAUTHENTICATED" });

    const res = await GET(new Request(url, { headers: { Authorization: `Bearer ${token}` } }));
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    expect(res.headers.get("cache-control")).toBe("no-store");
    const text = await res.text();
    const s = samples(text);
    expect(s.has('qc_billing_checks_total{source="cache"}')).toBe(true);
    expect(s.has('qc_signup_defaults_fallbacks_total{kind="unreadable"}')).toBe(true);
    for (const scope of ["pair", "client", "account"]) {
      expect(s.has(`qc_signin_throttled_total{scope="${scope}"}`)).toBe(true);
      expect(s.has(`qc_signin_lockouts_total{scope="${scope}"}`)).toBe(true);
    }
    expect(s.has("qc_process_resident_memory_bytes")).toBe(true);
    expect(s.get('qc_billing_ledger_readable{store="postgres"}')).toBe(1);
    const env = testEnv();
    for (const secret of [
      token,
      env.sessionSecret,
      env.databaseUrl,
      env.redisUrl,
      new URL(env.databaseUrl).pathname.slice(1),
      "127.0.0.1",
      "postgresql://",
      "redis://",
    ]) {
      expect(text.includes(secret), `scrape contains ${secret}`).toBe(false);
    }
    // Same registry on the next call (one per process), values still read live.
    expect(
      (await (await GET(new Request(url, { headers: { Authorization: `Bearer ${token}` } }))).text()).split("\n")
        .length,
    ).toBeGreaterThan(50);

    const { appBilling } = await import("@/lib/quota/runtime");
    const { pgPool } = await import("@/lib/db/client");
    const { redis } = await import("@/lib/redis/client");
    await appBilling().close();
    redis()?.disconnect();
    await pgPool().end();
  });
});

describe("route classifier on errors of a live PostgreSQL and Redis", () => {
  const url = () => testEnv().databaseUrl;

  it("statement_timeout (57014) and query_timeout ('Query read timeout') → unavailable", async () => {
    const p = new pg.Pool({ connectionString: url(), statement_timeout: 200 });
    const st = await caught(p.query("SELECT pg_sleep(2)"));
    expect(st).toMatchObject({ code: "57014" });
    expect(isBackendUnavailable(st)).toBe(true);
    await p.end();
    const q = new pg.Pool({ connectionString: url(), query_timeout: 200 });
    q.on("error", () => {});
    const rt = await caught(q.query("SELECT pg_sleep(2)"));
    expect((rt as Error).message).toBe("Query read timeout");
    expect(isBackendUnavailable(rt)).toBe(true);
    await q.end();
  });

  it("a terminated backend (57P01), then the broken connection, through pg and Prisma", async () => {
    const killer = await rawDb();
    const victim = new pg.Client({ connectionString: url() });
    victim.on("error", () => {});
    await victim.connect();
    const pid = (await victim.query("SELECT pg_backend_pid() AS pid")).rows[0].pid;
    const pending = caught(victim.query("SELECT pg_sleep(5)"));
    await new Promise((r) => setTimeout(r, 200));
    await killer.query("SELECT pg_terminate_backend($1)", [pid]);
    const terminated = await pending;
    expect(terminated).toMatchObject({ code: "57P01" });
    expect(isBackendUnavailable(terminated)).toBe(true);
    const after = await caught(victim.query("SELECT 1"));
    expect(isBackendUnavailable(after), String(after)).toBe(true);

    const pool = new pg.Pool({ connectionString: url(), max: 1 });
    pool.on("error", () => {});
    const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
    await prisma.$queryRaw`SELECT 1`;
    const viaPrisma = caught(prisma.$queryRaw`SELECT pg_sleep(5)`);
    await new Promise((r) => setTimeout(r, 300));
    await killer.query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(5)%' AND pid <> pg_backend_pid()",
    );
    const pe = await viaPrisma;
    expect(pe).toMatchObject({ name: "PrismaClientKnownRequestError" });
    expect(isBackendUnavailable(pe), String(pe)).toBe(true);
    await prisma.$disconnect();
    await killer.end();
  });

  it("a Prisma model query cancelled by statement_timeout (P2039 wrapping 57014) → unavailable", async () => {
    const locker = await rawDb();
    const pool = new pg.Pool({ connectionString: url(), statement_timeout: 300 });
    const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
    try {
      await locker.query("BEGIN");
      await locker.query("LOCK TABLE users IN ACCESS EXCLUSIVE MODE");
      const e = await caught(prisma.user.count());
      expect(e).toMatchObject({ name: "PrismaClientKnownRequestError" });
      expect(isBackendUnavailable(e), String(e)).toBe(true);
    } finally {
      await locker.query("ROLLBACK");
      await locker.end();
      await prisma.$disconnect();
    }
  });

  it("application errors stay 500s: unique violation (pg 23505, Prisma P2002), division by zero, a Redis WRONGTYPE", async () => {
    const [id] = await createUsers(c, "metrics-dup", 1);
    users.push(id);
    const { rows } = await c.query("SELECT email FROM users WHERE id = $1", [id]);
    const dup = await caught(c.query("INSERT INTO users (email, password_hash) VALUES ($1, 'x')", [rows[0].email]));
    expect(dup).toMatchObject({ code: "23505" });
    expect(isBackendUnavailable(dup)).toBe(false);
    expect(isBackendUnavailable(await caught(c.query("SELECT 1/0")))).toBe(false);

    const prisma = new PrismaClient({ adapter: new PrismaPg(new pg.Pool({ connectionString: url() })) });
    const pdup = await caught(prisma.user.create({ data: { email: rows[0].email, passwordHash: "x" } }));
    expect(pdup).toMatchObject({ code: "P2002" });
    expect(isBackendUnavailable(pdup)).toBe(false);
    await prisma.$disconnect();

    const r = new Redis(testEnv().redisUrl, { maxRetriesPerRequest: 1 });
    try {
      await r.set("qc:test:metrics:str", "x", "EX", 60);
      const wrong = await caught(r.hget("qc:test:metrics:str", "f"));
      expect(String(wrong)).toMatch(/WRONGTYPE/);
      expect(isBackendUnavailable(wrong)).toBe(false);
      await r.del("qc:test:metrics:str");
    } finally {
      r.disconnect();
    }
  });
});
