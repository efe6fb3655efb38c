import fs from "node:fs";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { QuotaClock } from "@/lib/billing/windows";
import { UserListParamsSchema } from "@/lib/users/list";
import { QUOTA_SORTS, userPageQuery, userPageQueryAtScale } from "@/lib/users/list-sql";
import { quotaKeysComplete, QuotaKeysRefresher } from "@/lib/users/quota-keys";

import { rawDb } from "../support/billing";
import { ATTACHED } from "../support/gateway-fixture";
import { testEnv } from "../support/test-env";

/**
 * The users list's sorts by spend and by "closest to a cap" at 100,000 users and 400,000 quota rows
 * (3 % spent today, 10 % this week, 25 % in the last 30 days): the per-user keys are read through the
 * window-start indexes (standalone's qc_upq_*_window_idx), never by scanning every quota row — the
 * regression this guards is a sort that reads the whole table per page view. Attached, the console
 * adds no index to the gateway's table: the test creates them with docs/attached-indexes.sql, as an
 * operator would, so that script is proved to give the same plans, and drops them afterwards.
 */
let c: pg.Client;
let pool: pg.Pool;
const clock = new QuotaClock("Asia/Shanghai");
const NOW = Date.now();
const PREFIX = "sortscale-";

type PlanNode = { "Node Type": string; "Relation Name"?: string; "Index Name"?: string; Plans?: PlanNode[] };
const walk = (n: PlanNode): PlanNode[] => [n, ...(n.Plans ?? []).flatMap(walk)];

/** docs/attached-indexes.sql, statement by statement (CONCURRENTLY cannot run in a transaction). */
const attachedIndexes = () =>
  fs
    .readFileSync("docs/attached-indexes.sql", "utf8")
    .split("\n")
    .filter((l) => !l.startsWith("--"))
    .join("\n")
    .split(";")
    .map((x) => x.trim())
    .filter(Boolean);

/** The indexes docs/attached-indexes.sql creates (dropped again after the test, attached). */
const attachedIndexNames = () =>
  attachedIndexes().flatMap((statement) => /IF NOT EXISTS (\w+) ON/.exec(statement)?.[1] ?? []);

beforeAll(async () => {
  c = await rawDb();
  pool = new pg.Pool({ connectionString: testEnv().databaseUrl, max: 2 });
  if (ATTACHED) for (const statement of attachedIndexes()) await c.query(statement);
  await c.query(
    `INSERT INTO users (email, password_hash, balance, created_at)
     SELECT $1 || g || '@sort.test', 'x', (g % 1000)::numeric / 7, now() - make_interval(secs => g)
     FROM generate_series(1, 100000) g`,
    [PREFIX],
  );
  await c.query(
    `INSERT INTO user_platform_quotas (user_id, platform, daily_limit_usd, weekly_limit_usd, monthly_limit_usd,
        daily_usage_usd, weekly_usage_usd, monthly_usage_usd, daily_window_start, weekly_window_start, monthly_window_start)
     SELECT u.id, p, CASE WHEN p = 'anthropic' THEN 10 END, CASE WHEN p = 'openai' THEN 50 END, 200,
            (u.id % 97) / 10.0, (u.id % 89) / 2.0, (u.id % 83) * 2.0,
            CASE WHEN u.id % 100 < 3 THEN $2::timestamptz ELSE $2::timestamptz - interval '3 days' END,
            CASE WHEN u.id % 100 < 10 THEN $3::timestamptz ELSE $3::timestamptz - interval '14 days' END,
            CASE WHEN u.id % 100 < 25 THEN $4::timestamptz - interval '5 days' ELSE $4::timestamptz - interval '40 days' END
     FROM users u CROSS JOIN unnest(ARRAY['anthropic', 'openai', 'gemini', 'grok']) p
     WHERE u.email LIKE $1 || '%@sort.test'`,
    [PREFIX, new Date(clock.startOfDay(NOW)), new Date(clock.startOfWeek(NOW)), new Date(NOW)],
  );
  await c.query("ANALYZE users; ANALYZE user_platform_quotas");
}, 180_000);
afterAll(async () => {
  await c.query("DELETE FROM users WHERE email LIKE $1 || '%@sort.test'", [PREFIX]);
  if (ATTACHED) {
    for (const name of attachedIndexNames()) await c.query(`DROP INDEX IF EXISTS public.${name}`);
  }
  await pool.end();
  await c.end();
}, 180_000);

describe("users list sorts at 100k users (EXPLAIN)", () => {
  it.each(QUOTA_SORTS)("%s reads quota rows only through the window-start indexes", async (sort) => {
    const q = userPageQuery(UserListParamsSchema.parse({ sort, dir: "desc" }), clock, NOW);
    const { rows } = await pool.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${q.text}`, q.values);
    const plan = rows[0]["QUERY PLAN"][0] as { Plan: PlanNode; "Execution Time": number };
    const nodes = walk(plan.Plan).filter((n) => n["Relation Name"] === "user_platform_quotas");
    // Never a sequential scan of the quota table, and every window's key comes from its index.
    expect(nodes.filter((n) => n["Node Type"].includes("Seq Scan"))).toEqual([]);
    const indexes = new Set(walk(plan.Plan).flatMap((n) => (n["Index Name"] ? [n["Index Name"]] : [])));
    const expected = {
      spend_day: ["qc_upq_daily_window_idx"],
      spend_week: ["qc_upq_weekly_window_idx"],
      spend_month: ["qc_upq_monthly_window_idx"],
      cap: ["qc_upq_daily_window_idx", "qc_upq_weekly_window_idx", "qc_upq_monthly_window_idx"],
    }[sort];
    for (const i of expected) expect(indexes).toContain(i);
    console.log(`[users-sort] ${sort} at 100k users / 400k rows: ${plan["Execution Time"].toFixed(0)} ms`);
  });
});

describe("the list at scale at 100k users (EXPLAIN; docs/users-list-scale.md §3)", () => {
  beforeAll(async () => {
    // the keys as a new instance's refresher backfills them, as of NOW
    await c.query("DELETE FROM quota_console.user_quota_keys_state");
    const refresher = new QuotaKeysRefresher({ pool, clock }, { backfillBatch: 20_000 });
    for (let i = 0; i < 20 && !(await quotaKeysComplete(pool)); i++) await refresher.tick(NOW);
    expect(await quotaKeysComplete(pool)).toBe(true);
    await c.query("ANALYZE quota_console.user_quota_keys");
  }, 180_000);
  afterAll(async () => {
    await c.query("DELETE FROM quota_console.user_quota_keys; DELETE FROM quota_console.user_quota_keys_state");
  });

  /** Each quota sort and filter reads its key index and never scans users or the quota rows. */
  const cases: Array<[string, Record<string, string>, string | string[]]> = [
    ["spend_day desc", { sort: "spend_day" }, "user_quota_keys_day_idx"],
    ["spend_week desc", { sort: "spend_week" }, "user_quota_keys_week_idx"],
    ["spend_month desc", { sort: "spend_month" }, "user_quota_keys_month_idx"],
    ["cap desc", { sort: "cap" }, "user_quota_keys_cap_idx"],
    // over 80 % sorted by cap is the range cap ≥ 0.8: the partial over-80 index and the cap index read from 0.8
    // down are the same range, and the planner takes either as the statistics fall
    [
      "over 80 %, cap desc (the overview's near-cap list)",
      { sort: "cap", over80: "1" },
      ["user_quota_keys_over80_idx", "user_quota_keys_cap_idx"],
    ],
    ["has a limit, created desc", { limit: "1" }, "qc_users_created_idx"],
    ["created desc", {}, "qc_users_created_idx"],
    ["e-mail asc", { sort: "email", dir: "asc" }, "qc_users_email_lower_idx"],
  ];
  it.each(cases)("%s: an index range, no sequential scan", async (_name, params, index) => {
    const q = userPageQueryAtScale(UserListParamsSchema.parse(params), clock, NOW);
    const { rows } = await pool.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${q.text}`, q.values);
    const plan = rows[0]["QUERY PLAN"][0] as { Plan: PlanNode; "Execution Time": number };
    const nodes = walk(plan.Plan);
    const scanned = (rel: string) =>
      nodes.filter((n) => n["Relation Name"] === rel && n["Node Type"].includes("Seq Scan"));
    // attached without docs/attached-indexes.sql's users indexes a column sort scans users; the script is applied here
    expect([...scanned("users"), ...scanned("user_platform_quotas"), ...scanned("user_quota_keys")]).toEqual([]);
    const indexes = nodes.flatMap((n) => (n["Index Name"] ? [n["Index Name"]] : []));
    expect(indexes.filter((i) => [index].flat().includes(i))).not.toEqual([]);
    console.log(`[users-at-scale] ${_name} at 100k users: ${plan["Execution Time"].toFixed(1)} ms`);
  });
});
