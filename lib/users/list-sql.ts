// The admin users page's statement, without `server-only`, so the benchmark (bench/users-page.ts)
// can EXPLAIN and run exactly what lib/users/list.ts runs.
import { PLATFORMS } from "@/lib/billing/platforms";
import type { QuotaClock } from "@/lib/billing/windows";

/** The page's filters and sort, as UserListParams (lib/users/list.ts) carries them. */
export type UserPageFilter = {
  q: string;
  role: string;
  status: string;
  source: string;
  limit: "" | "1";
  over80: "" | "1";
  sort: keyof typeof ORDER;
  dir: "asc" | "desc";
  page: number;
};

export const USER_PAGE_SIZE = 50;

/**
 * Sort keys, qualified by the relation they sort: the outer SELECT also has an output column
 * `balance` (numeric cast to text for exact transport), and an unqualified ORDER BY name means the
 * output column — balances then sorted as text ($8.80 above $42.00).
 */
const ORDER = {
  created: {
    asc: (t: string) => `${t}.created_at ASC, ${t}.id ASC`,
    desc: (t: string) => `${t}.created_at DESC, ${t}.id DESC`,
  },
  email: {
    asc: (t: string) => `lower(${t}.email) ASC, ${t}.id ASC`,
    desc: (t: string) => `lower(${t}.email) DESC, ${t}.id DESC`,
  },
  balance: {
    asc: (t: string) => `${t}.balance ASC, ${t}.id ASC`,
    desc: (t: string) => `${t}.balance DESC, ${t}.id DESC`,
  },
} as const;

export type UserPageQuotaJson = {
  id: number;
  platform: string;
  dl: number | null;
  wl: number | null;
  ml: number | null;
  du: number;
  wu: number;
  mu: number;
  ds: string | null;
  ws: string | null;
  ms: string | null;
};

export type UserPageRow = {
  id: string;
  email: string;
  username: string | null;
  role: string;
  status: string;
  balance: string;
  signup_source: string;
  created_at: Date;
  total: string;
  quotas: UserPageQuotaJson[];
};

/**
 * One page of users with their platform quotas as ONE statement (filters, count, page and each
 * user's quota rows as JSON): its text and parameters. "Over 80 %" filters on the database usage
 * with the read APIs' lazy-zero rules.
 */
export function userPageQuery(
  params: UserPageFilter,
  clock: QuotaClock,
  now: number,
): { text: string; values: unknown[] } {
  const order = ORDER[params.sort][params.dir];
  const text = `WITH f AS (
       SELECT u.id, u.email, u.username, u.role, u.status, u.balance, u.signup_source, u.created_at
       FROM users u
       WHERE u.deleted_at IS NULL
         AND ($1::text IS NULL OR u.email ILIKE $1 OR u.username ILIKE $1)
         AND ($2::text = '' OR u.role = $2)
         AND ($3::text = '' OR u.status = $3)
         AND ($4::text = '' OR u.signup_source = $4)
         AND (NOT $5::bool OR EXISTS (SELECT 1 FROM user_platform_quotas q WHERE q.user_id = u.id AND q.deleted_at IS NULL
               AND (q.daily_limit_usd IS NOT NULL OR q.weekly_limit_usd IS NOT NULL OR q.monthly_limit_usd IS NOT NULL)))
         AND (NOT $6::bool OR EXISTS (SELECT 1 FROM user_platform_quotas q WHERE q.user_id = u.id AND q.deleted_at IS NULL AND (
               (q.daily_limit_usd > 0 AND (CASE WHEN q.daily_window_start < $7 THEN 0 ELSE q.daily_usage_usd END) >= 0.8 * q.daily_limit_usd)
            OR (q.weekly_limit_usd > 0 AND (CASE WHEN q.weekly_window_start < $8 THEN 0 ELSE q.weekly_usage_usd END) >= 0.8 * q.weekly_limit_usd)
            OR (q.monthly_limit_usd > 0 AND (CASE WHEN $9 - q.monthly_window_start >= interval '720 hours' THEN 0 ELSE q.monthly_usage_usd END)
                  >= 0.8 * q.monthly_limit_usd))))
     ), p AS (
       SELECT f.*, count(*) OVER () AS total FROM f ORDER BY ${order("f")} LIMIT $10 OFFSET $11
     )
     SELECT p.id, p.email, p.username, p.role, p.status, p.balance::text AS balance, p.signup_source, p.created_at, p.total,
       COALESCE((SELECT json_agg(json_build_object(
           'id', q.id, 'platform', q.platform,
           'dl', q.daily_limit_usd::float8, 'wl', q.weekly_limit_usd::float8, 'ml', q.monthly_limit_usd::float8,
           'du', q.daily_usage_usd::float8, 'wu', q.weekly_usage_usd::float8, 'mu', q.monthly_usage_usd::float8,
           'ds', q.daily_window_start, 'ws', q.weekly_window_start, 'ms', q.monthly_window_start)
         ORDER BY array_position($12::text[], q.platform::text) NULLS LAST, q.platform)
         FROM user_platform_quotas q WHERE q.user_id = p.id AND q.deleted_at IS NULL), '[]'::json) AS quotas
     FROM p ORDER BY ${order("p")}`;
  const values = [
    params.q ? searchPattern(params.q) : null,
    params.role,
    params.status,
    params.source,
    params.limit === "1",
    params.over80 === "1",
    new Date(clock.startOfDay(now)),
    new Date(clock.startOfWeek(now)),
    new Date(now),
    USER_PAGE_SIZE,
    (params.page - 1) * USER_PAGE_SIZE,
    PLATFORMS,
  ];
  return { text, values };
}

/**
 * `q` as an ILIKE "contains" pattern with `%`, `_` and `\` taken literally (backslash is
 * PostgreSQL's default LIKE escape): searching `a_b` must not match `axb`.
 */
export function searchPattern(q: string): string {
  return `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
