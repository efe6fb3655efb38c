// The users-page benchmark's seed (bench/users-page.ts): `users` bench users (10,000 by default) with
// 4 quota rows each and an admin, and usage history for the 7-day sparkline — all set-based
// (INSERT … SELECT FROM generate_series), never row by row.
import type pg from "pg";

export const USERS = 10_000;

export async function seed(pool: pg.Pool, users = USERS): Promise<{ adminId: number }> {
  // The admin is older than every user, so it sits alone on page 201 and pages 1..200 hold 50
  // bench users each (page 1's 200 quota keys are all bench users').
  const { rows: adminRows } = await pool.query<{ id: string }>(
    `INSERT INTO users (email, username, password_hash, role, status, signup_source, balance, created_at)
     VALUES ('admin@users.bench', 'bench-admin', 'x', 'admin', 'active', 'email', 0, now() - interval '30 days') RETURNING id`,
  );
  await pool.query(
    `INSERT INTO users (email, username, password_hash, role, status, signup_source, balance, created_at)
     SELECT 'bench-' || g || '@users.bench', 'u' || g, 'x', 'user', 'active',
            (ARRAY['email','linuxdo','oidc','wechat','github','google','dingtalk'])[1 + g % 7], (g % 100)::numeric,
            now() - make_interval(mins => g)
     FROM generate_series(1, $1::int) g`,
    [users],
  );
  // 4 rows per user; usage cycles so that about half the users have a window at >= 80 %:
  //   anthropic daily 10 (usage n % 12), openai monthly 100 (usage n % 110),
  //   gemini weekly 50 for even n (usage n % 60), grok no limits. All window starts = now.
  await pool.query(
    `INSERT INTO user_platform_quotas (user_id, platform, daily_limit_usd, weekly_limit_usd, monthly_limit_usd,
        daily_usage_usd, weekly_usage_usd, monthly_usage_usd, daily_window_start, weekly_window_start, monthly_window_start)
     SELECT u.id, p.platform,
            CASE p.platform WHEN 'anthropic' THEN 10 END,
            CASE WHEN p.platform = 'gemini' AND u.n % 2 = 0 THEN 50 END,
            CASE p.platform WHEN 'openai' THEN 100 END,
            CASE p.platform WHEN 'anthropic' THEN u.n % 12 WHEN 'openai' THEN u.n % 5 WHEN 'gemini' THEN u.n % 4 ELSE u.n % 3 END,
            CASE p.platform WHEN 'anthropic' THEN (u.n % 12) * 3 WHEN 'openai' THEN u.n % 40 WHEN 'gemini' THEN u.n % 60 ELSE u.n % 3 END,
            CASE p.platform WHEN 'anthropic' THEN (u.n % 12) * 5 WHEN 'openai' THEN u.n % 110 WHEN 'gemini' THEN u.n % 60 ELSE u.n % 3 END,
            now(), now(), now()
     FROM (SELECT id, substring(email FROM '^bench-([0-9]+)@')::int AS n FROM users WHERE email LIKE 'bench-%@users.bench') u
     CROSS JOIN (VALUES ('anthropic'), ('openai'), ('gemini'), ('grok')) AS p(platform)`,
  );
  // Usage history: every 5th user spent on anthropic and openai in one hour of each of the last 7
  // days (the sparkline reads these hourly buckets; 2 × 7 rows per such user).
  await pool.query(
    `INSERT INTO usage_rollup_hourly (user_id, platform, bucket_start, cost, requests)
     SELECT u.id, p.platform, date_trunc('hour', now()) - make_interval(days => d), ((u.n + d) % 13) * 0.37, 1 + d
     FROM (SELECT id, substring(email FROM '^bench-([0-9]+)@')::int AS n FROM users WHERE email LIKE 'bench-%@users.bench') u
     CROSS JOIN (VALUES ('anthropic'), ('openai')) AS p(platform)
     CROSS JOIN generate_series(0, 6) d
     WHERE u.n % 5 = 0`,
  );
  await pool.query("ANALYZE");
  return { adminId: Number(adminRows[0].id) };
}
