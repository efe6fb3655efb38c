// The users list's quota keys at scale (docs/users-list-scale.md §3, lib/users/quota-keys.ts):
// `BENCH_USERS` users (default 1,000,000) with 4 quota rows each, seeded set-based on a throwaway
// standalone database (DATABASE_URL, already migrated), then: the backfill's time, one tick's cost
// per kind of work (usage markers of the users active in the last 5 s, a midnight-style rollover
// backlog, the sweep), and the EXPLAIN ANALYZE of the refresh statement for one batch. Prints figures
// and ratios; asserts nothing.
//
//   DATABASE_URL=postgresql://…/throwaway BENCH_USERS=1000000 npx tsx bench/user-quota-keys.ts
import pg from "pg";

import { QuotaClock } from "@/lib/billing/windows";
import { QUOTA_KEYS_REFRESH_SQL, QuotaKeysRefresher, quotaKeysRefreshParams } from "@/lib/users/quota-keys";

const USERS = Number(process.env.BENCH_USERS ?? 1_000_000);
const clock = new QuotaClock("Asia/Shanghai");
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 4 });
const ms = (t0: number) => Date.now() - t0;

async function seed(now: number) {
  const t0 = Date.now();
  await pool.query(
    `INSERT INTO users (email, username, password_hash, created_at)
     SELECT 'k' || g || '@keys.bench', 'u' || g, 'x', now() - make_interval(mins => g) FROM generate_series(1, $1::int) g`,
    [USERS],
  );
  // Window starts: daily current for 20 % of users, weekly for 40 %, monthly for 75 %; limits:
  // anthropic daily 10 (even n), openai monthly 100, gemini weekly 50 (n % 3 = 0), grok none.
  await pool.query(
    `INSERT INTO user_platform_quotas (user_id, platform, daily_limit_usd, weekly_limit_usd, monthly_limit_usd,
        daily_usage_usd, weekly_usage_usd, monthly_usage_usd, daily_window_start, weekly_window_start, monthly_window_start)
     SELECT u.id, p.platform,
            CASE WHEN p.platform = 'anthropic' AND u.id % 2 = 0 THEN 10 END,
            CASE WHEN p.platform = 'gemini' AND u.id % 3 = 0 THEN 50 END,
            CASE WHEN p.platform = 'openai' THEN 100 END,
            (u.id % 12) * 0.75, (u.id % 40) * 1.25, (u.id % 110) * 1.1,
            CASE WHEN u.id % 5 = 0 THEN $1::timestamptz + interval '1 hour' ELSE $1::timestamptz - interval '2 days' END,
            CASE WHEN u.id % 5 < 2 THEN $2::timestamptz + interval '1 hour' ELSE $2::timestamptz - interval '9 days' END,
            $3::timestamptz - make_interval(days => (u.id % 40)::int)
     FROM users u CROSS JOIN (VALUES ('anthropic'), ('openai'), ('gemini'), ('grok')) AS p(platform)
     WHERE u.email LIKE 'k%@keys.bench'`,
    [new Date(clock.startOfDay(now)), new Date(clock.startOfWeek(now)), new Date(now)],
  );
  await pool.query("ANALYZE");
  const { rows } = await pool.query(
    "SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM user_platform_quotas) AS quotas",
  );
  console.log(`seed: ${rows[0].users} users, ${rows[0].quotas} quota rows in ${ms(t0)} ms`);
}

async function isolate() {
  await pool.query("UPDATE user_quota_keys_state SET sweep_after = 9000000000000000000 WHERE name = 'refresher'");
}

async function main() {
  const now = Date.now();
  const { rows: have } = await pool.query("SELECT count(*)::int AS n FROM users");
  if (have[0].n < USERS) await seed(now);
  const r = new QuotaKeysRefresher({ pool, clock }, { backfillBudgetMs: 3_600_000 });

  // Backfill: an empty table with every user's quota rows.
  await pool.query("TRUNCATE user_quota_keys, user_quota_key_changes, user_quota_keys_state");
  let t0 = Date.now();
  const b = await r.tick(now);
  const backfillMs = ms(t0);
  console.log(
    `backfill: ${JSON.stringify(b)} in ${backfillMs} ms (${Math.round(USERS / (backfillMs / 1000))} users/s)`,
  );
  await pool.query("VACUUM ANALYZE user_quota_keys");
  const { rows: size } = await pool.query(
    "SELECT count(*) AS rows, pg_size_pretty(pg_total_relation_size('user_quota_keys')) AS size FROM user_quota_keys",
  );
  console.log(`table: ${size[0].rows} rows, ${size[0].size} with its indexes`);

  // (a) usage markers: 5 % of users active in the current hour, each about once a minute → the users
  // marked within one 5 s tick are 1/12 of them; and a full batch (20,000).
  for (const marked of [Math.round((USERS * 0.05) / 12), 20_000]) {
    await pool.query(
      `INSERT INTO user_quota_key_changes (user_id, platform)
       SELECT id, 'anthropic' FROM users WHERE email LIKE 'k%@keys.bench' AND id % 20 = 0 ORDER BY id LIMIT $1`,
      [marked],
    );
    await isolate();
    t0 = Date.now();
    const t = await r.tick(now + 1000);
    console.log(`tick, ${marked} users marked: ${JSON.stringify(t)} in ${ms(t0)} ms`);
  }

  // (b) a midnight-style rollover: every row with a limited current daily (or weekly) window expires.
  const midnight = clock.dateEnd(now) + 1000;
  const { rows: backlog } = await pool.query("SELECT count(*)::int AS n FROM user_quota_keys WHERE valid_until <= $1", [
    new Date(midnight),
  ]);
  await isolate();
  t0 = Date.now();
  const e = await r.tick(midnight);
  console.log(
    `tick after midnight, backlog ${backlog[0].n}: ${JSON.stringify(e)} in ${ms(t0)} ms → ${Math.ceil(backlog[0].n / r.config.expiredBatch)} ticks to clear`,
  );

  // (c) the sweep alone: 20,000 users.
  await pool.query("UPDATE user_quota_keys_state SET sweep_after = 0 WHERE name = 'refresher'");
  await pool.query("DELETE FROM user_quota_key_changes");
  t0 = Date.now();
  const s = await r.tick(now + 2000);
  console.log(`tick, sweep only: ${JSON.stringify(s)} in ${ms(t0)} ms`);
  t0 = Date.now();
  const idle = await r.tick(now + 3000);
  console.log(`tick, sweep only (warm): ${JSON.stringify(idle)} in ${ms(t0)} ms`);

  // EXPLAIN ANALYZE of the refresh statement for a batch (rolled back: it writes).
  // unchanged values (nothing rewritten) and, the next day, every value rewritten (day_start moves)
  for (const [n, at] of [
    [1, now + 4000],
    [4167, now + 4000],
    [20_000, now + 4000],
    [20_000, midnight + 4000],
  ]) {
    const { rows: ids } = await pool.query<{ id: string }>(
      "SELECT id::text FROM users WHERE email LIKE 'k%@keys.bench' AND id % 7 = 3 ORDER BY id LIMIT $1",
      [n],
    );
    const c = await pool.connect();
    try {
      await c.query("BEGIN");
      const list = ids.map((x) => x.id);
      const { rows: plan } = await c.query(
        `EXPLAIN (ANALYZE, BUFFERS, FORMAT TEXT) ${QUOTA_KEYS_REFRESH_SQL}`,
        quotaKeysRefreshParams(clock, list, at, list, false),
      );
      const text = plan.map((p) => String(p["QUERY PLAN"]).replace(/'\{[0-9,]{60,}\}'/g, "'{…}'")).join("\n");
      console.log(`\nEXPLAIN ANALYZE, refresh of ${n} users at ${new Date(at).toISOString()}:\n${text}`);
      await c.query("ROLLBACK");
    } finally {
      c.release();
    }
  }
  await pool.end();
}

await main();
