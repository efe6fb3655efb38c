// The admin users page's statement, without `server-only`, so the benchmark (bench/users-page.ts)
// can EXPLAIN and run exactly what lib/users/list.ts runs.
import { DEFAULT_PLATFORMS } from "@/lib/billing/platforms";
import { QUOTA_COLUMNS } from "@/lib/billing/quota-repo";
import type { QuotaClock } from "@/lib/billing/windows";
import { USER_GROUPS_COLUMN, type UserGroup } from "@/lib/gateway/context";

/** The page's filters and sort, as UserListParams (lib/users/list.ts) carries them. */
export type UserPageFilter = {
  q: string;
  role: string;
  status: string;
  source: string;
  limit: "" | "1";
  over80: "" | "1";
  sort: keyof typeof ORDER | QuotaSortKey;
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

/**
 * Sorts by the user's quota rows, from the database usage with the read APIs' lazy-zero rules (a
 * window that has rolled over counts 0), as the "over 80 %" filter reads them — it lags Redis only
 * in flusher mode:
 *   spend_day / spend_week / spend_month   the sum over platforms of the current window's usage;
 *   cap                                    "closest to a cap": the highest used/limit over every
 *                                          limited window (limit > 0; a 0 limit is a disabled window,
 *                                          not one being used up) of every platform.
 * Each key is aggregated only over rows that can give it a non-zero value — rows whose window is
 * current or never started (the read APIs report such a window's usage as stored, spec §8.1, and
 * so does the "over 80 %" filter) — so the statement reads them through the window-start indexes where they exist
 * (prisma/standalone/gateway-subset.sql; in attached mode the gateway's table has none and the
 * same statement scans it). Users without such a row sort as 0. Ties: by id.
 */
export const QUOTA_SORTS = ["spend_day", "spend_week", "spend_month", "cap"] as const;
export type QuotaSortKey = (typeof QUOTA_SORTS)[number];

const isQuotaSort = (s: string): s is QuotaSortKey => (QUOTA_SORTS as readonly string[]).includes(s);

/** Positional parameters of one statement: `add(v)` appends v and answers its `$n`. */
export class SqlParams {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/**
 * The instants the lazy-zero rules compare window starts with, each a parameter of `sql` added
 * when first used (PostgreSQL refuses a parameter the statement never names: it cannot type it).
 */
function windowBounds(sql: SqlParams, clock: QuotaClock, now: number) {
  const once = (value: () => Date) => {
    let name: string | undefined;
    return () => (name ??= sql.add(value()));
  };
  const day = once(() => new Date(clock.startOfDay(now)));
  const week = once(() => new Date(clock.startOfWeek(now)));
  // a monthly window is current while now − start < 720 h (start > now − 720 h)
  const month = once(() => new Date(now - 720 * 3600_000));
  return {
    get day() {
      return day();
    },
    get week() {
      return week();
    },
    get month() {
      return month();
    },
  };
}

/** The list's filters (UserPageFilter without sort and page): what bulk selection reuses. */
export type UserFilter = Pick<UserPageFilter, "q" | "role" | "status" | "source" | "limit" | "over80">;

/**
 * The users list's filter as SQL conditions on `users` aliased `alias` (AND-joined, always
 * including "not soft-deleted"), with their parameters appended to `sql` — the ONE definition of
 * "the users this filter selects", for the list (userPageQuery) and bulk selection alike:
 *
 *   const sql = new SqlParams();
 *   const where = userFilterSql(filter, clock, Date.now(), sql);
 *   pool.query(`SELECT u.id FROM users u WHERE ${where}`, sql.values);
 *
 * Only the filters that are set become conditions (no `$n IS NULL OR …`), so every filter gets a
 * plan of its own. "Over 80 %" reads the database usage with the read APIs' lazy-zero rules (a
 * rolled-over window counts 0, a window never started does not), which lags Redis only in flusher mode; a 0 limit is a disabled
 * window and never "over".
 */
export function userFilterSql(
  f: UserFilter,
  clock: QuotaClock,
  now: number,
  sql: SqlParams,
  alias = "u",
  /**
   * "keys": the quota filters find their users through quota_console.user_quota_keys (the list at
   * scale, LIVE_LIST_MAX_USERS): "has a limit" by its has_limit, "over 80 %" by its cap and then
   * the live rule above on those users' rows — so a listed user is over 80 % now, and the one a
   * stale key misses shows after the refresher's next tick (docs/users-list-scale.md §3).
   * "keys only": the same without the live rule (the bounded count: ~10k users' rows not read
   * again; fresh keys select the same users — cap ≥ 0.8 ⇔ usage ≥ 0.8 × limit, as rounding the
   * ratio cannot cross 0.8, which is exact at any scale).
   */
  via: "live" | "keys" | "keys only" = "live",
): string {
  const u = alias;
  const where = [`${u}.deleted_at IS NULL`];
  if (f.q) {
    const p = sql.add(searchPattern(f.q));
    where.push(`(${u}.email ILIKE ${p} OR ${u}.username ILIKE ${p})`);
  }
  if (f.role) where.push(`${u}.role = ${sql.add(f.role)}`);
  if (f.status) where.push(`${u}.status = ${sql.add(f.status)}`);
  if (f.source) where.push(`${u}.signup_source = ${sql.add(f.source)}`);
  if (f.limit === "1" && via !== "live")
    where.push(`EXISTS (SELECT 1 FROM quota_console.user_quota_keys k WHERE k.user_id = ${u}.id AND k.has_limit)`);
  else if (f.limit === "1")
    where.push(`EXISTS (SELECT 1 FROM user_platform_quotas q WHERE q.user_id = ${u}.id AND q.deleted_at IS NULL
        AND (q.daily_limit_usd IS NOT NULL OR q.weekly_limit_usd IS NOT NULL OR q.monthly_limit_usd IS NOT NULL))`);
  if (f.over80 === "1" && via !== "live")
    where.push(`EXISTS (SELECT 1 FROM quota_console.user_quota_keys k WHERE k.user_id = ${u}.id AND k.cap >= 0.8)`);
  if (f.over80 === "1" && via !== "keys only") {
    const b = windowBounds(sql, clock, now);
    where.push(`EXISTS (SELECT 1 FROM user_platform_quotas q WHERE q.user_id = ${u}.id AND q.deleted_at IS NULL AND (
         (q.daily_limit_usd > 0 AND (q.daily_window_start IS NULL OR q.daily_window_start >= ${b.day}) AND q.daily_usage_usd >= 0.8 * q.daily_limit_usd)
      OR (q.weekly_limit_usd > 0 AND (q.weekly_window_start IS NULL OR q.weekly_window_start >= ${b.week}) AND q.weekly_usage_usd >= 0.8 * q.weekly_limit_usd)
      OR (q.monthly_limit_usd > 0 AND (q.monthly_window_start IS NULL OR q.monthly_window_start > ${b.month}) AND q.monthly_usage_usd >= 0.8 * q.monthly_limit_usd)))`);
  }
  return where.join("\n       AND ");
}

/**
 * k: the key per user with a non-zero one, from current rows only; each branch is one range of
 * one window-start index.
 */
function quotaKeySql(sort: QuotaSortKey, b: ReturnType<typeof windowBounds>): string {
  // functions: a bound becomes a parameter only where a branch names it
  // current: started in the current window, or never started — the read APIs report a window
  // without a start "as stored" (spec §8.1), and so does the "over 80 %" filter
  const cur = {
    daily: () => `(q.daily_window_start >= ${b.day} OR q.daily_window_start IS NULL)`,
    weekly: () => `(q.weekly_window_start >= ${b.week} OR q.weekly_window_start IS NULL)`,
    monthly: () => `(q.monthly_window_start > ${b.month} OR q.monthly_window_start IS NULL)`,
  };
  const spend = (w: keyof typeof cur) =>
    `SELECT q.user_id, sum(q.${w}_usage_usd) AS sort_key FROM user_platform_quotas q
       WHERE q.deleted_at IS NULL AND ${cur[w]()} AND q.${w}_usage_usd > 0 GROUP BY q.user_id`;
  switch (sort) {
    case "spend_day":
      return spend("daily");
    case "spend_week":
      return spend("weekly");
    case "spend_month":
      return spend("monthly");
    case "cap": {
      const ratio = (w: keyof typeof cur) =>
        `SELECT q.user_id, q.${w}_usage_usd / q.${w}_limit_usd AS r FROM user_platform_quotas q
           WHERE q.deleted_at IS NULL AND ${cur[w]()} AND q.${w}_limit_usd > 0`;
      return `SELECT w.user_id, max(w.r) AS sort_key FROM (
         ${ratio("daily")} UNION ALL ${ratio("weekly")} UNION ALL ${ratio("monthly")}
       ) w GROUP BY w.user_id`;
    }
  }
}

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
  /** only when the statement was built `withGroups` (the gateway's groups, lib/gateway/context.ts) */
  groups?: UserGroup[];
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
  /** the platform registry: each user's quota rows in its order */
  platforms: readonly string[] = DEFAULT_PLATFORMS,
  /** each user's gateway groups as a column too (only where the gateway's tables exist) */
  withGroups = false,
): { text: string; values: unknown[] } {
  const sql = new SqlParams();
  const where = userFilterSql(params, clock, now, sql);
  const sort = params.sort;
  const keyed = isQuotaSort(sort) ? quotaKeySql(sort, windowBounds(sql, clock, now)) : null;
  const dir = params.dir === "asc" ? "ASC" : "DESC";
  // p's ORDER BY names its output column sort_key (k's own column of that name is the null one).
  const order = isQuotaSort(sort)
    ? (t: string) => `${t === "f" ? "" : `${t}.`}sort_key ${dir}, ${t}.id ${dir}`
    : ORDER[sort][params.dir];
  // Keyed sorts: the key per user from that user's current rows (k), 0 for users without one.
  const k = keyed ? `, k AS (${keyed})` : "";
  const pFrom = keyed
    ? "SELECT f.*, coalesce(k.sort_key, 0) AS sort_key, count(*) OVER () AS total FROM f LEFT JOIN k ON k.user_id = f.id"
    : "SELECT f.*, count(*) OVER () AS total FROM f";
  const limit = sql.add(USER_PAGE_SIZE);
  const offset = sql.add((params.page - 1) * USER_PAGE_SIZE);
  const text = `WITH f AS (
       SELECT ${USER_COLUMNS}
       FROM users u
       WHERE ${where}
     )${k}, p AS (
       ${pFrom} ORDER BY ${order("f")} LIMIT ${limit} OFFSET ${offset}
     )
     ${pageRowsSelect(sql, platforms, withGroups, "p.total")}
     FROM p ORDER BY ${order("p")}`;
  return { text, values: sql.values };
}

const USER_COLUMNS = "u.id, u.email, u.username, u.role, u.status, u.balance, u.signup_source, u.created_at";

/** The page's output columns from `p` (one user per row): each user's quota rows as JSON, in the registry's order. */
function pageRowsSelect(sql: SqlParams, platforms: readonly string[], withGroups: boolean, total: string): string {
  const order$ = sql.add([...platforms]);
  return `SELECT p.id, p.email, p.username, p.role, p.status, p.balance::text AS balance, p.signup_source, p.created_at, ${total} AS total,
       COALESCE((SELECT json_agg(json_build_object(
           'id', q.id, 'platform', q.platform,
           'dl', q.daily_limit_usd::float8, 'wl', q.weekly_limit_usd::float8, 'ml', q.monthly_limit_usd::float8,
           'du', q.daily_usage_usd::float8, 'wu', q.weekly_usage_usd::float8, 'mu', q.monthly_usage_usd::float8,
           'ds', q.daily_window_start, 'ws', q.weekly_window_start, 'ms', q.monthly_window_start)
         ORDER BY array_position(${order$}::text[], q.platform::text) NULLS LAST, q.platform)
         FROM user_platform_quotas q WHERE q.user_id = p.id AND q.deleted_at IS NULL), '[]'::json) AS quotas${
           withGroups
             ? `,
       ${USER_GROUPS_COLUMN}`
             : ""
         }`;
}

/**
 * Above this many users the list stops aggregating and counting live (docs/users-list-scale.md §3):
 * the page comes from userPageQueryAtScale and its total from userCountQuery (exact up to this
 * many, then quota_console.user_list_counts where the filter allows, else "more than this").
 */
export const LIVE_LIST_MAX_USERS = 10_000;

/**
 * The users with a non-zero key of a quota sort, in quota_console.user_quota_keys: spend_day and
 * spend_week only where the key is of the current quota day / week (a key of an earlier one is 0
 * now, so a rollover needs no rewrite), each the range of one of the table's indexes.
 */
function keyedSql(sort: QuotaSortKey, b: ReturnType<typeof windowBounds>): { key: string; where: string } {
  switch (sort) {
    case "spend_day":
      return { key: "k.spend_day", where: `k.day_start = ${b.day} AND k.spend_day > 0` };
    case "spend_week":
      return { key: "k.spend_week", where: `k.week_start = ${b.week} AND k.spend_week > 0` };
    case "spend_month":
      return { key: "k.spend_month", where: "k.spend_month > 0" };
    case "cap":
      return { key: "k.cap", where: "k.cap > 0" };
  }
}

/**
 * One page of the list at scale (more than LIVE_LIST_MAX_USERS users), in the order and with the
 * rows of userPageQuery, without its total (userCountQuery) and without reading every matching
 * user: column sorts read the top of a users index (prisma/standalone/gateway-subset.sql;
 * docs/attached-indexes.sql attached); quota sorts and filters read quota_console.user_quota_keys
 * (lib/users/quota-keys.ts), whose staleness bounds docs/consistency.md §1 states — the values shown
 * are the live rows' and Redis', as below the threshold.
 *
 * A quota sort is the concatenation of two index-ordered streams: the users with a non-zero key
 * (by key, then id) and the rest as 0 (by id) — rest first when ascending. The page lies within
 * the first offset + 50 of the concatenation, so each stream stops there: a page costs what an
 * OFFSET over one index costs, never a sort of every user.
 */
export function userPageQueryAtScale(
  params: UserPageFilter,
  clock: QuotaClock,
  now: number,
  platforms: readonly string[] = DEFAULT_PLATFORMS,
  withGroups = false,
): { text: string; values: unknown[] } {
  const sql = new SqlParams();
  const where = userFilterSql(params, clock, now, sql, "u", "keys");
  const limit = sql.add(USER_PAGE_SIZE);
  const offset = sql.add((params.page - 1) * USER_PAGE_SIZE);
  const sort = params.sort;
  if (!isQuotaSort(sort)) {
    const order = ORDER[sort][params.dir];
    const text = `WITH p AS (
       SELECT ${USER_COLUMNS} FROM users u
       WHERE ${where}
       ORDER BY ${order("u")} LIMIT ${limit} OFFSET ${offset}
     )
     ${pageRowsSelect(sql, platforms, withGroups, "NULL::bigint")}
     FROM p ORDER BY ${order("p")}`;
    return { text, values: sql.values };
  }
  const keyed = keyedSql(sort, windowBounds(sql, clock, now));
  // "over 80 %" sorted by cap: the range of the cap index above 0.8 (the filter's own EXISTS does
  // not bound the scan; with few such users the range would otherwise run through every key)
  if (sort === "cap" && params.over80 === "1") keyed.where = "k.cap >= 0.8";
  const dir = params.dir === "asc" ? "ASC" : "DESC";
  const reach = sql.add((params.page - 1) * USER_PAGE_SIZE + USER_PAGE_SIZE);
  // part 0 comes first: the keyed users when descending, the zero ones when ascending
  const [keyedPart, zeroPart] = dir === "DESC" ? [0, 1] : [1, 0];
  // The second stream is read only if the first ends before the page does (a one-time filter on
  // the first's size). "Over 80 %" sorted by cap has no zero stream: its users all have a key.
  const noZero = sort === "cap" && params.over80 === "1";
  const [first, second] = dir === "DESC" ? ["kp", "zp"] : ["zp", "kp"];
  const onlyIfShort = (cte: string) => (cte === second ? `AND (SELECT count(*) FROM ${first}) < ${reach}` : "");
  const streams: Record<string, string> = {
    kp: `SELECT u.id, ${keyed.key} AS sort_key FROM quota_console.user_quota_keys k JOIN users u ON u.id = k.user_id
       WHERE ${keyed.where} AND ${where} ${onlyIfShort("kp")}
       ORDER BY ${keyed.key} ${dir}, k.user_id ${dir} LIMIT ${reach}`,
    zp: `SELECT u.id, 0::numeric AS sort_key FROM users u
       WHERE ${noZero ? "false" : where}
         AND NOT EXISTS (SELECT 1 FROM quota_console.user_quota_keys k WHERE k.user_id = u.id AND ${keyed.where})
         ${onlyIfShort("zp")}
       ORDER BY u.id ${dir} LIMIT ${reach}`,
  };
  // a WITH names only the queries before it: the first stream first
  const text = `WITH ${first} AS (
       ${streams[first]}
     ), ${second} AS (
       ${streams[second]}
     ), pg AS (
       SELECT id, sort_key, ${keyedPart} AS part FROM kp UNION ALL SELECT id, sort_key, ${zeroPart} FROM zp
       ORDER BY part, sort_key ${dir}, id ${dir} LIMIT ${limit} OFFSET ${offset}
     ), p AS (
       SELECT ${USER_COLUMNS}, pg.sort_key, pg.part FROM pg JOIN users u ON u.id = pg.id
     )
     ${pageRowsSelect(sql, platforms, withGroups, "NULL::bigint")}
     FROM p ORDER BY p.part, p.sort_key ${dir}, p.id ${dir}`;
  return { text, values: sql.values };
}

/**
 * How far the list at scale counts a filter's users: LIVE_LIST_MAX_USERS, or with a search five pages
 * past this one — a "contains" match is tested row by row, so counting 10,000 matches of a broad
 * search reads most of the table (126 ms at a million users); five pages ahead costs what the page
 * already reads, and the total then says "more than" that many.
 */
export function userCountBound(params: Pick<UserPageFilter, "q" | "page">): number {
  return params.q ? Math.min(LIVE_LIST_MAX_USERS, (params.page + 4) * USER_PAGE_SIZE) : LIVE_LIST_MAX_USERS;
}

/**
 * The number of users the filter selects, counted up to `bound` + 1 (bounded work: an answer above
 * `bound` means "more than that"); the quota filters as the page at scale reads them.
 */
export function userCountQuery(
  params: UserFilter,
  clock: QuotaClock,
  now: number,
  bound = LIVE_LIST_MAX_USERS,
): { text: string; values: unknown[] } {
  const sql = new SqlParams();
  const where = userFilterSql(params, clock, now, sql, "u", "keys only");
  const text = `SELECT count(*)::int AS n FROM (SELECT 1 FROM users u WHERE ${where} LIMIT ${sql.add(bound + 1)}) c`;
  return { text, values: sql.values };
}

/**
 * The users list's live quota column (readQuotaCells, polled every 10 s): the active rows of these
 * users, through the user_id index, in the registry's platform order.
 */
export function quotaCellsQuery(userIds: readonly number[], platforms: readonly string[]) {
  return {
    text: `SELECT ${QUOTA_COLUMNS} FROM user_platform_quotas
     WHERE user_id = ANY($1::bigint[]) AND deleted_at IS NULL
       AND user_id IN (SELECT id FROM users WHERE id = ANY($1::bigint[]) AND deleted_at IS NULL)
     ORDER BY user_id, array_position($2::text[], platform::text) NULLS LAST, platform`,
    values: [[...userIds], [...platforms]] as unknown[],
  };
}

/** The users page's counters (getUserStats in lib/users/users.ts; bench/users-page.ts EXPLAINs it). */
export const USER_STATS_SQL = `SELECT count(*) AS total,
       count(*) FILTER (WHERE role = 'admin') AS admins,
       count(*) FILTER (WHERE status = 'active') AS active,
       count(*) FILTER (WHERE status = 'disabled') AS disabled
     FROM users WHERE deleted_at IS NULL`;

/**
 * `q` as an ILIKE "contains" pattern with `%`, `_` and `\` taken literally (backslash is
 * PostgreSQL's default LIKE escape): searching `a_b` must not match `axb`.
 */
export function searchPattern(q: string): string {
  return `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
