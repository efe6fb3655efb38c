import Redis from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { billingKeys } from "@/lib/billing/keys";
import { QuotaCache } from "@/lib/billing/quota-cache";
import { QuotaClock } from "@/lib/billing/windows";
import { listUsersWithQuotas, USER_PAGE_SIZE, UserListParamsSchema } from "@/lib/users/list";
import { userCountBound } from "@/lib/users/list-sql";

import { rawDb } from "../support/billing";
import { testEnv } from "../support/test-env";

/**
 * The admin users list at scale: 10,000 users and 40,000 quota rows, a page of 50 from ONE SQL
 * statement and ONE Redis pipeline (counted on instrumented clients), with filters and the
 * freshest usage.
 */
let c: pg.Client;
let pool: pg.Pool;
let r: Redis;
const clock = new QuotaClock("Asia/Shanghai");
const NOW = Date.parse("2026-11-25T10:00:00+08:00");
const P = (over: Record<string, string> = {}) => UserListParamsSchema.parse(over);

beforeAll(async () => {
  c = await rawDb();
  pool = new pg.Pool({ connectionString: testEnv().databaseUrl, max: 4 });
  r = new Redis(testEnv().redisUrl);
  await c.query(`
    INSERT INTO users (email, username, password_hash, role, status, signup_source, balance, created_at)
    SELECT 'scale-' || g || '@list.test', CASE WHEN g % 7 = 0 THEN 'scaler_' || g ELSE '' END, 'x',
           CASE WHEN g % 1000 = 0 THEN 'admin' ELSE 'user' END, CASE WHEN g % 50 = 0 THEN 'disabled' ELSE 'active' END,
           (ARRAY['email','linuxdo','oidc','wechat','github','google','dingtalk'])[1 + g % 7], (g % 100)::numeric,
           now() - make_interval(mins => g)
    FROM generate_series(1, 10000) g`);
  // 4 platforms per user = 40,000 rows; every 10th user's anthropic is at 90 % of its daily cap today.
  await c.query(
    `INSERT INTO user_platform_quotas (user_id, platform, daily_limit_usd, monthly_limit_usd, daily_usage_usd, daily_window_start, monthly_window_start)
     SELECT u.id, p.platform, CASE WHEN p.platform = 'anthropic' THEN 10 END, CASE WHEN p.platform = 'openai' THEN 100 END,
            CASE WHEN p.platform = 'anthropic' AND u.n % 10 = 0 THEN 9 ELSE 1 END, $1, $2
     FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM users WHERE email LIKE 'scale-%@list.test') u
     CROSS JOIN (VALUES ('anthropic'), ('openai'), ('gemini'), ('grok')) AS p(platform)`,
    [new Date(clock.startOfDay(NOW)), new Date(NOW - 86400_000)],
  );
  await c.query("ANALYZE users; ANALYZE user_platform_quotas");
});
afterAll(async () => {
  await c.query("DELETE FROM users WHERE email LIKE 'scale-%@list.test'");
  const keys = await r.keys("billing:user_platform_quota:*");
  if (keys.length) await r.del(...keys);
  await c.end();
  await pool.end();
  await r.quit();
});

/** Instrumented clients: count SQL statements, Redis pipelines and any other Redis command. */
function counted() {
  const n = { sql: 0, pipelines: 0, pipelineCommands: 0, directRedis: 0 };
  const countingPool = {
    query: (text: string, values?: unknown[]) => (n.sql++, pool.query(text, values)),
  } as unknown as pg.Pool;
  const countingRedis = new Proxy(r, {
    get(target, prop, receiver) {
      if (prop === "pipeline") {
        return () => {
          n.pipelines++;
          const p = target.pipeline();
          const hgetall = p.hgetall.bind(p);
          p.hgetall = ((key: string) => (n.pipelineCommands++, hgetall(key))) as typeof p.hgetall;
          return p;
        };
      }
      const v = Reflect.get(target, prop, receiver);
      if (typeof v === "function" && ["hgetall", "get", "hmget", "exists", "mget"].includes(String(prop))) {
        return (...args: unknown[]) => (n.directRedis++, (v as (...x: unknown[]) => unknown).apply(target, args));
      }
      return v;
    },
  });
  return {
    n,
    deps: {
      pool: countingPool,
      cache: new QuotaCache(countingRedis as Redis),
      clock,
      now: NOW,
      scale: "live" as const,
    },
  };
}

describe("listUsersWithQuotas", () => {
  it("a page of 50 out of 10,000 is one SQL statement and one Redis pipeline", async () => {
    const { n, deps } = counted();
    const t0 = performance.now();
    const page = await listUsersWithQuotas(P({ q: "list.test" }), deps);
    const ms = performance.now() - t0;
    expect(page.total).toBe(10_000);
    expect(page.rows).toHaveLength(USER_PAGE_SIZE);
    expect(page.rows.every((u) => u.quotas.length === 4)).toBe(true);
    expect(n).toEqual({ sql: 1, pipelines: 1, pipelineCommands: 200, directRedis: 0 });
    console.log(
      `[users-list] page of 50 / 10k users / 40k rows: ${ms.toFixed(1)} ms (1 SQL, 1 pipeline of 200 HGETALL)`,
    );
    // Newest first by default.
    expect(page.rows[0].email).toBe("scale-1@list.test");

    // At scale (docs/users-list-scale.md §3): the page and its bounded count, side by side — the same rows.
    const atScale = counted();
    const same = await listUsersWithQuotas(P({ q: "list.test" }), { ...atScale.deps, scale: "keys" });
    expect(atScale.n).toEqual({ sql: 2, pipelines: 1, pipelineCommands: 200, directRedis: 0 });
    // a search counts five pages past its page (userCountBound), then says "more than that"
    expect([same.total, same.totalAtLeast]).toEqual([userCountBound(P({ q: "list.test" })), true]);
    expect(same.rows).toEqual(page.rows);
  });

  it("filters by search, role, status, source, 'has a limit' and 'over 80 %'; sorts; pages", async () => {
    const { deps } = counted();
    expect((await listUsersWithQuotas(P({ q: "scaler_7" }), deps)).rows.map((u) => u.username)).toEqual(
      expect.arrayContaining(["scaler_7", "scaler_70", "scaler_700", "scaler_7000"]),
    );
    expect((await listUsersWithQuotas(P({ q: "list.test", role: "admin" }), deps)).total).toBe(10);
    expect((await listUsersWithQuotas(P({ q: "list.test", status: "disabled" }), deps)).total).toBe(200);
    const github = await c.query(
      "SELECT count(*)::int AS n FROM users WHERE email LIKE 'scale-%@list.test' AND signup_source = 'github'",
    );
    expect((await listUsersWithQuotas(P({ q: "list.test", source: "github" }), deps)).total).toBe(github.rows[0].n);
    expect((await listUsersWithQuotas(P({ q: "list.test", limit: "1" }), deps)).total).toBe(10_000);
    const over = await listUsersWithQuotas(P({ q: "list.test", over80: "1" }), deps);
    expect(over.total).toBe(1000);
    expect(over.rows.every((u) => u.quotas.find((q) => q.platform === "anthropic")!.daily_usage_usd === 9)).toBe(true);
    const byEmail = await listUsersWithQuotas(P({ q: "list.test", sort: "email", dir: "asc", page: "2" }), deps);
    const emails = byEmail.rows.map((u) => u.email);
    expect(emails).toEqual(
      [...emails]
        .sort((a, b) => a.localeCompare(b, "en", { sensitivity: "base" }))
        .sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? -1 : 1)),
    );
    expect((await listUsersWithQuotas(P({ q: "%_\\" }), deps)).total).toBe(0); // LIKE metacharacters are literal
    expect((await listUsersWithQuotas(P({ q: "list.test", page: "201" }), deps)).rows).toEqual([]);
  });

  it("sorts by balance as a number, not as text (issue 13: $8.80, $5.00, $42.00, $3.14 came out in that order)", async () => {
    const { deps } = counted();
    await c.query(
      `INSERT INTO users (email, password_hash, balance)
       SELECT 'scale-bal-' || b || '@list.test', 'x', b::numeric FROM unnest(ARRAY['8.80', '5.00', '42.00', '3.14', '100.5']) b`,
    );
    try {
      const list = async (dir: string) =>
        (await listUsersWithQuotas(P({ q: "scale-bal-", sort: "balance", dir }), deps)).rows.map((u) => u.balance);
      expect(await list("desc")).toEqual(["100.50", "42.00", "8.80", "5.00", "3.14"]);
      expect(await list("asc")).toEqual(["3.14", "5.00", "8.80", "42.00", "100.50"]);
    } finally {
      await c.query("DELETE FROM users WHERE email LIKE 'scale-bal-%@list.test'");
    }
  });

  it("sorts by spend today / this week / in 30 days and by closest to a cap, numerically, with rolled-over windows as 0", async () => {
    const { deps } = counted();
    const day = clock.startOfDay(NOW);
    const week = clock.startOfWeek(NOW);
    const T = {
      today: new Date(day + 3600_000),
      yesterday: new Date(day - 3600_000), // Tuesday: still this week
      lastWeek: new Date(week - 3600_000),
      month: new Date(NOW - 5 * 86400_000),
      monthOver: new Date(NOW - 31 * 86400_000),
    };
    // user → rows [platform, daily/weekly/monthly limit, daily/weekly/monthly usage, window starts]
    type R = [string, number | null, number | null, number | null, number, number, number, Date, Date, Date];
    const users: Record<string, R[]> = {
      a: [["anthropic", 1000, null, null, 100, 100, 100, T.today, T.today, T.month]],
      b: [
        ["anthropic", 10, null, null, 9, 9, 9, T.today, T.today, T.month],
        ["openai", null, null, null, 0, 2, 2, T.yesterday, T.yesterday, T.month],
      ],
      c: [
        ["anthropic", null, null, 1, 0.25, 0.25, 0.99, T.today, T.today, T.month],
        ["gemini", null, null, null, 0.25, 0.25, 0.25, T.today, T.today, T.month],
      ],
      // the daily window rolled over (yesterday): its 50 is not today's spend, nor 500 % of a cap
      d: [["anthropic", 10, 100, null, 50, 50, 50, T.yesterday, T.yesterday, T.month]],
      e: [],
      // a 0 limit is a disabled window, not one being used up; the 30 days ran out
      f: [["anthropic", 0, null, 10, 5, 5, 1000, T.today, T.lastWeek, T.monthOver]],
    };
    for (const [name, rows] of Object.entries(users)) {
      const { rows: u } = await c.query("INSERT INTO users (email, password_hash) VALUES ($1, 'x') RETURNING id", [
        `scale-sp-${name}@list.test`,
      ]);
      for (const r of rows)
        await c.query(
          `INSERT INTO user_platform_quotas (user_id, platform, daily_limit_usd, weekly_limit_usd, monthly_limit_usd,
             daily_usage_usd, weekly_usage_usd, monthly_usage_usd, daily_window_start, weekly_window_start, monthly_window_start)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
          [u[0].id, ...r],
        );
    }
    try {
      const order = async (sort: string, dir = "desc") =>
        (await listUsersWithQuotas(P({ q: "scale-sp-", sort, dir }), deps)).rows
          .map((u) => u.email.slice("scale-sp-".length, "scale-sp-".length + 1))
          .join("");
      // Ties (0) by id in the same direction: e was created before f.
      expect(await order("spend_day")).toBe("abfced"); // 100, 9, 5, 0.5, 0, 0
      expect(await order("spend_week")).toBe("adbcfe"); // 100, 50, 11, 0.5, 0, 0
      expect(await order("spend_month")).toBe("adbcfe"); // 100, 50, 11, 1.24, 0, 0
      expect(await order("cap")).toBe("cbdafe"); // 0.99, 0.9, 0.5, 0.1, 0, 0
      expect(await order("cap", "asc")).toBe("efadbc");
    } finally {
      await c.query("DELETE FROM users WHERE email LIKE 'scale-sp-%@list.test'");
    }
  });

  it("shows the freshest usage: a current-schema Redis entry wins over the row, with its windows evaluated", async () => {
    const { deps } = counted();
    const first = (await listUsersWithQuotas(P({ q: "scale-1@list.test" }), deps)).rows[0];
    const cache = new QuotaCache(r);
    await cache.set(
      first.id,
      "anthropic",
      {
        dailyUsage: 7.25,
        weeklyUsage: 7.25,
        monthlyUsage: 7.25,
        version: 3,
        schemaVersion: 1,
        dailyLimit: 10,
        weeklyLimit: null,
        monthlyLimit: null,
        dailyWindowStart: clock.startOfDay(NOW),
        weeklyWindowStart: clock.startOfWeek(NOW),
        monthlyWindowStart: NOW - 1000,
      },
      60,
    );
    await cache.set(
      first.id,
      "openai",
      {
        dailyUsage: 50,
        weeklyUsage: 0,
        monthlyUsage: 0,
        version: 0,
        schemaVersion: 0, // legacy: ignored
        dailyLimit: null,
        weeklyLimit: null,
        monthlyLimit: 100,
        dailyWindowStart: null,
        weeklyWindowStart: null,
        monthlyWindowStart: null,
      },
      60,
    );
    const row = (await listUsersWithQuotas(P({ q: "scale-1@list.test" }), deps)).rows[0];
    const a = row.quotas.find((q) => q.platform === "anthropic")!;
    expect(a).toMatchObject({
      daily_usage_usd: 7.25,
      daily_limit_usd: 10,
      usage_source: "cache",
      daily_window_resets_at: "2026-11-26T00:00:00+08:00",
    });
    expect(row.quotas.find((q) => q.platform === "openai")).toMatchObject({
      usage_source: "database",
      daily_usage_usd: 1,
    });
    await r.del(
      billingKeys.userPlatformQuota(first.id, "anthropic"),
      billingKeys.userPlatformQuota(first.id, "openai"),
    );
  });
});

// Guards issue 10 §7: the search is a "contains" match with LIKE's metacharacters taken literally
// (`_` one character, `%` anything, `\` the escape, were wildcards or errors), and NUL — which
// PostgreSQL refuses in text (22021) and used to fail the page — is ignored.
describe("the search box's input", () => {
  const ESC = [
    ["lit_1@esc.test", ""],
    ["litx1@esc.test", ""],
    ["pct%1@esc.test", ""],
    ["pctx1@esc.test", ""],
    ["bs1@esc.test", "back\\slash"],
    ["bs2@esc.test", "backslash"],
  ] as const;
  beforeAll(async () => {
    for (const [email, username] of ESC) {
      await c.query("INSERT INTO users (email, username, password_hash) VALUES ($1, $2, 'x')", [email, username]);
    }
  });
  afterAll(async () => {
    await c.query("DELETE FROM users WHERE email LIKE '%@esc.test'");
  });
  const emails = async (q: string) =>
    (await listUsersWithQuotas(P({ q, sort: "email", dir: "asc" }), counted().deps)).rows.map((u) => u.email);

  it("`_`, `%` and `\\` match only themselves", async () => {
    expect(await emails("esc.test")).toHaveLength(6); // positive control: the rows are there
    expect(await emails("lit_1")).toEqual(["lit_1@esc.test"]);
    expect(await emails("t%1")).toEqual(["pct%1@esc.test"]);
    expect(await emails("k\\s")).toEqual(["bs1@esc.test"]);
    expect(await emails("\\")).toEqual(["bs1@esc.test"]);
    expect(await emails("t_1")).toEqual(["lit_1@esc.test"]);
    expect(await emails("%@esc")).toEqual([]);
  });

  it("NUL and other control characters are dropped, not sent to PostgreSQL", async () => {
    expect(P({ q: "\u0000" }).q).toBe("");
    expect(P({ q: " lit\u0000_1\t" }).q).toBe("lit_1");
    expect(P({ q: "\ud800lit_1" }).q).toBe("lit_1");
    expect(await emails("lit\u0000_1")).toEqual(["lit_1@esc.test"]);
    expect((await listUsersWithQuotas(P({ q: "\u0000" }), counted().deps)).total).toBeGreaterThanOrEqual(10_006);
  });
});
