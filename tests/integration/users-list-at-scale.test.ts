import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { QuotaClock } from "@/lib/billing/windows";
import { listUsersWithQuotas, UserListParamsSchema } from "@/lib/users/list";
import { countedUsers, measureListScale, recountUserList } from "@/lib/users/list-counts";
import { LIVE_LIST_MAX_USERS, QUOTA_SORTS, USER_PAGE_SIZE, userCountBound } from "@/lib/users/list-sql";
import { quotaKeysComplete, QuotaKeysRefresher, refreshQuotaKeys } from "@/lib/users/quota-keys";
import { prng } from "@/scripts/lib/prng";

import { rawDb } from "../support/billing";
import { testEnv } from "../support/test-env";

/**
 * The users list at scale (docs/users-list-scale.md §3) gives the same pages as the live
 * statements: every sort, both directions, every filter, first, middle, last and past-the-end pages,
 * over random users and quota rows (limits set, unlimited and disabled; windows current, rolled
 * over and never started; deleted rows and users; ties). quota_console.user_quota_keys is filled
 * here from a reference written from the live rules (lib/users/list-sql.ts quotaKeySql and the
 * "over 80 %" filter), so this proves the reading side — and the first test checks that the
 * product's own recomputation (lib/users/quota-keys.ts) writes exactly that table.
 */
let c: pg.Client;
let pool: pg.Pool;
const clock = new QuotaClock("Asia/Shanghai");
const NOW = Date.parse("2026-11-25T10:00:00+08:00");
const DOMAIN = "@at-scale.test";
const USERS = 420;
const PLATFORMS = ["anthropic", "openai", "gemini", "grok", "kimi"];
const SOURCES = ["email", "github", "linuxdo"];

const P = (over: Record<string, string> = {}) => UserListParamsSchema.parse(over);
const deps = (scale: "live" | "keys") => ({ pool, cache: null, clock, now: NOW, groups: false, scale });

/** The keys of every seeded user, by the live rules, as a reference independent of lib/users/quota-keys.ts. */
async function fillReferenceKeys() {
  const day = new Date(clock.startOfDay(NOW));
  const week = new Date(clock.startOfWeek(NOW));
  const month = new Date(NOW - 720 * 3600_000);
  await c.query(
    `DELETE FROM quota_console.user_quota_keys k USING users u WHERE u.id = k.user_id AND u.email LIKE $1`,
    [`%${DOMAIN}`],
  );
  await c.query(
    `INSERT INTO quota_console.user_quota_keys
       (user_id, has_limit, day_start, spend_day, week_start, spend_week, spend_month, cap, valid_until, computed_at)
     SELECT q.user_id,
       bool_or(q.daily_limit_usd IS NOT NULL OR q.weekly_limit_usd IS NOT NULL OR q.monthly_limit_usd IS NOT NULL),
       $1, coalesce(sum(q.daily_usage_usd) FILTER (WHERE (q.daily_window_start >= $1 OR q.daily_window_start IS NULL)), 0),
       $2, coalesce(sum(q.weekly_usage_usd) FILTER (WHERE (q.weekly_window_start >= $2 OR q.weekly_window_start IS NULL)), 0),
       coalesce(sum(q.monthly_usage_usd) FILTER (WHERE (q.monthly_window_start > $3 OR q.monthly_window_start IS NULL)), 0),
       coalesce(greatest(
         max(q.daily_usage_usd / q.daily_limit_usd) FILTER (WHERE q.daily_limit_usd > 0 AND (q.daily_window_start >= $1 OR q.daily_window_start IS NULL)),
         max(q.weekly_usage_usd / q.weekly_limit_usd) FILTER (WHERE q.weekly_limit_usd > 0 AND (q.weekly_window_start >= $2 OR q.weekly_window_start IS NULL)),
         max(q.monthly_usage_usd / q.monthly_limit_usd) FILTER (WHERE q.monthly_limit_usd > 0 AND (q.monthly_window_start > $3 OR q.monthly_window_start IS NULL))), 0),
       'infinity', $4
     FROM user_platform_quotas q JOIN users u ON u.id = q.user_id
     WHERE q.deleted_at IS NULL AND u.email LIKE $5
     GROUP BY q.user_id`,
    [day, week, month, new Date(NOW), `%${DOMAIN}`],
  );
}

beforeAll(async () => {
  c = await rawDb();
  pool = new pg.Pool({ connectionString: testEnv().databaseUrl, max: 4 });
  const rnd = prng(0x5ca1e);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)];
  const day = clock.startOfDay(NOW);
  const week = clock.startOfWeek(NOW);
  const users: unknown[][] = [];
  for (let i = 0; i < USERS; i++)
    users.push([
      `u${String(i).padStart(4, "0")}-${pick(["a", "b", "c"])}${DOMAIN}`,
      rnd() < 0.1 ? "admin" : "user",
      rnd() < 0.15 ? "disabled" : "active",
      pick(SOURCES),
      pick(["0", "1.5", "10", "42.42"]), // ties on balance
      new Date(NOW - Math.floor(rnd() * 50) * 3600_000), // ties on created_at
      rnd() < 0.05 ? new Date(NOW - 1000) : null,
    ]);
  const ids = (
    await c.query<{ id: string }>(
      `INSERT INTO users (email, password_hash, role, status, signup_source, balance, created_at, deleted_at)
       SELECT e, 'x', r, s, src, b::numeric, ca, d
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[])
         AS t(e, r, s, src, b, ca, d)
       RETURNING id`,
      [0, 1, 2, 3, 4, 5, 6].map((k) => users.map((u) => u[k])),
    )
  ).rows.map((r) => Number(r.id));
  // a usage from a small set (ties on spend), or below a cent at 10 decimals
  const usage = () => pick([0, 0, 0.5, 1, 2.5, 8, 9.9999999999, 0.0000000001]);
  const limit = () => pick([null, null, 0, 1, 10, 12.5]);
  const start = (current: number, rolledOver: number) => pick([new Date(current), new Date(rolledOver), null]);
  const rows: unknown[][] = [];
  for (const id of ids)
    for (const platform of PLATFORMS)
      if (rnd() < 0.55)
        rows.push([
          id,
          platform,
          limit(),
          limit(),
          limit(),
          usage(),
          usage(),
          usage(),
          start(day + 3600_000, day - 86400_000),
          start(week + 3600_000, week - 8 * 86400_000),
          start(NOW - 5 * 86400_000, NOW - 31 * 86400_000),
          rnd() < 0.05 ? new Date(NOW - 1000) : null,
        ]);
  await c.query(
    `INSERT INTO user_platform_quotas (user_id, platform, daily_limit_usd, weekly_limit_usd, monthly_limit_usd,
       daily_usage_usd, weekly_usage_usd, monthly_usage_usd, daily_window_start, weekly_window_start, monthly_window_start, deleted_at)
     SELECT * FROM unnest($1::bigint[], $2::text[], $3::numeric[], $4::numeric[], $5::numeric[], $6::numeric[], $7::numeric[],
       $8::numeric[], $9::timestamptz[], $10::timestamptz[], $11::timestamptz[], $12::timestamptz[])`,
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11].map((k) => rows.map((r) => r[k])),
  );
  await fillReferenceKeys();
  await c.query("ANALYZE users; ANALYZE user_platform_quotas; ANALYZE quota_console.user_quota_keys");
});
afterAll(async () => {
  await c.query(
    "DELETE FROM quota_console.user_quota_keys k USING users u WHERE u.id = k.user_id AND u.email LIKE $1",
    [`%${DOMAIN}`],
  );
  await c.query("DELETE FROM users WHERE email LIKE $1", [`%${DOMAIN}`]);
  await c.query("DELETE FROM quota_console.user_list_counts");
  await c.end();
  await pool.end();
});

it("the product's recomputation writes the reference keys", async () => {
  const read = async () =>
    (
      await c.query(
        `SELECT k.user_id, k.has_limit, k.day_start, k.spend_day::text, k.week_start, k.spend_week::text,
                k.spend_month::text, k.cap::text
         FROM quota_console.user_quota_keys k JOIN users u ON u.id = k.user_id WHERE u.email LIKE $1 ORDER BY k.user_id`,
        [`%${DOMAIN}`],
      )
    ).rows;
  const reference = await read();
  expect(reference.length).toBeGreaterThan(USERS / 2);
  await c.query(
    "DELETE FROM quota_console.user_quota_keys k USING users u WHERE u.id = k.user_id AND u.email LIKE $1",
    [`%${DOMAIN}`],
  );
  const ids = (await c.query("SELECT id FROM users WHERE email LIKE $1", [`%${DOMAIN}`])).rows.map((r) => r.id);
  await refreshQuotaKeys(c, clock, ids, NOW);
  expect(await read()).toEqual(reference);
});

const FILTERS: Record<string, string>[] = [
  {},
  { role: "admin" },
  { status: "disabled" },
  { source: "github" },
  { limit: "1" },
  { over80: "1" },
  { q: "-b@at" },
  { limit: "1", status: "active" },
];

describe("the list at scale gives the live list's pages", () => {
  for (const sort of ["created", "email", "balance", ...QUOTA_SORTS])
    for (const dir of ["desc", "asc"])
      it(`sort ${sort} ${dir}, every filter, pages 1, 2, last and past the end`, async () => {
        for (const f of FILTERS) {
          // within the seeded users: the search narrows to them unless the filter has its own
          const params = { q: DOMAIN.slice(1), ...f, sort, dir };
          const first = await listUsersWithQuotas(P(params), deps("live"));
          const last = Math.max(1, Math.ceil(first.total / USER_PAGE_SIZE));
          for (const page of new Set([1, 2, last, last + 1])) {
            const p = P({ ...params, page: String(page) });
            const [live, atScale] = await Promise.all([
              listUsersWithQuotas(p, deps("live")),
              listUsersWithQuotas(p, deps("keys")),
            ]);
            const label = JSON.stringify({ ...params, page });
            expect(
              atScale.rows.map((u) => u.id),
              label,
            ).toEqual(live.rows.map((u) => u.id));
            expect(atScale.rows, label).toEqual(live.rows);
            // past the end the live statement has no row to carry its count (0); the bounded count still
            // counts — up to its bound (a search: five pages past this one), then "more than" the bound
            const exact = page > last ? first.total : live.total;
            const bound = userCountBound(p);
            expect([atScale.total, atScale.totalAtLeast], label).toEqual(
              exact > bound ? [bound, true] : [exact, false],
            );
          }
          expect(first.total, JSON.stringify(params)).toBeGreaterThan(0);
        }
      });
});

describe("totals above LIVE_LIST_MAX_USERS", () => {
  const BIG = "@at-scale-big.test";
  beforeAll(async () => {
    await c.query(
      `INSERT INTO users (email, password_hash, role, signup_source, created_at)
       SELECT 'big-' || g || $1, 'x', CASE WHEN g % 100 = 0 THEN 'admin' ELSE 'user' END,
              CASE WHEN g % 2 = 0 THEN 'github' ELSE 'email' END, now() - make_interval(secs => g)
       FROM generate_series(1, $2::int) g`,
      [BIG, LIVE_LIST_MAX_USERS + 200],
    );
    await c.query("ANALYZE users");
  });
  let state: unknown[] = [];
  beforeAll(async () => {
    state = (await c.query("SELECT * FROM quota_console.user_quota_keys_state")).rows;
  });
  afterAll(async () => {
    await c.query("DELETE FROM users WHERE email LIKE $1", [`%${BIG}`]);
    // the refresher's state as this test found it (other files backfill from an empty state)
    await c.query("DELETE FROM quota_console.user_quota_keys_state");
    await c.query(
      "INSERT INTO quota_console.user_quota_keys_state SELECT * FROM json_populate_recordset(null::quota_console.user_quota_keys_state, $1)",
      [JSON.stringify(state)],
    );
  });

  it("measures the scale, counts up to the bound, then reads the recorded counts where the filter allows", async () => {
    // at scale only once the quota keys are complete (the refresher's first backfill)
    const refresher = new QuotaKeysRefresher({ pool, clock });
    if (!(await quotaKeysComplete(pool))) expect(await measureListScale(pool)).toBe("live");
    for (let i = 0; i < 10 && !(await quotaKeysComplete(pool)); i++) await refresher.tick(NOW);
    expect(await measureListScale(pool)).toBe("keys");
    const exact = async (where: string) =>
      Number((await c.query(`SELECT count(*) AS n FROM users WHERE deleted_at IS NULL AND ${where}`)).rows[0].n);

    // no recorded counts yet: "more than 10,000"
    await c.query("DELETE FROM quota_console.user_list_counts");
    const before = await listUsersWithQuotas(P({}), deps("keys"));
    expect([before.total, before.totalAtLeast]).toEqual([LIVE_LIST_MAX_USERS, true]);
    expect(before.rows).toHaveLength(USER_PAGE_SIZE);

    expect(await recountUserList(pool)).toBe(true);
    const all = await listUsersWithQuotas(P({}), deps("keys"));
    expect([all.total, all.totalAtLeast]).toEqual([await exact("true"), false]);
    const github = await listUsersWithQuotas(P({ source: "github" }), deps("keys"));
    expect([github.total, github.totalAtLeast]).toEqual([await exact("signup_source = 'github'"), false]);
    expect(await countedUsers(pool, { role: "admin", status: "", source: "" })).toBe(await exact("role = 'admin'"));
    // below the bound, a filter the counts cannot answer is counted exactly
    const admins = await listUsersWithQuotas(P({ role: "admin", q: "big-" }), deps("keys"));
    expect([admins.total, admins.totalAtLeast]).toEqual([await exact("role = 'admin' AND email LIKE '%big-%'"), false]);
    // a search counts five pages past the page, then says "more than"
    const searched = await listUsersWithQuotas(P({ q: "big-", page: "3" }), deps("keys"));
    expect([searched.total, searched.totalAtLeast]).toEqual([7 * USER_PAGE_SIZE, true]);
    const narrow = await listUsersWithQuotas(P({ q: "big-100" }), deps("keys"));
    expect([narrow.total, narrow.totalAtLeast]).toEqual([await exact("email LIKE 'big-100%'"), false]);
    // the same pages as live, at this size too
    for (const sort of ["created", "spend_day"])
      for (const page of ["1", "150", "205"]) {
        const p = P({ sort, page });
        const [live, atScale] = await Promise.all([
          listUsersWithQuotas(p, deps("live")),
          listUsersWithQuotas(p, deps("keys")),
        ]);
        expect(atScale.rows.map((u) => u.id)).toEqual(live.rows.map((u) => u.id));
      }
  });

  it("a second recount while one runs is skipped, not queued", async () => {
    const holder = await pool.connect();
    try {
      await holder.query("BEGIN");
      await holder.query("SELECT pg_advisory_xact_lock(hashtext('quota_console.user_list_counts'))");
      expect(await recountUserList(pool)).toBe(false);
    } finally {
      await holder.query("ROLLBACK");
      holder.release();
    }
  });
});
