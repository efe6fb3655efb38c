// The users list's quota keys (docs/users-list-scale.md §3, docs/consistency.md §1): one row per user
// with a non-deleted quota row in quota_console.user_quota_keys, derived from user_platform_quotas
// with exactly the list's lazy-zero rules (lib/users/list-sql.ts quotaKeySql and userFilterSql's
// "has a limit"), so the usage sorts and quota filters read an index instead of aggregating every
// user's rows. Enforcement never reads it. No `server-only`: the benchmark and the tests run it.
import type pg from "pg";

import { IntervalLoop } from "@/lib/billing/interval-loop";
import type { QuotaClock } from "@/lib/billing/windows";

type Queryable = Pick<pg.Pool, "query">;

const MONTH_MS = 720 * 3600_000;

/**
 * The instants of one recomputation at `now`: the window starts the list compares with, and when
 * each calendar window's "current" rule next changes (the next local date; the next local week).
 */
export function quotaKeyBounds(clock: QuotaClock, now: number) {
  const dayStart = clock.startOfDay(now);
  const weekStart = clock.startOfWeek(now);
  const dayEnd = clock.dateEnd(now);
  let weekEnd = dayEnd;
  for (let i = 0; i < 10 && clock.startOfWeek(weekEnd) === weekStart; i++) weekEnd = clock.dateEnd(weekEnd);
  return {
    computedAt: new Date(now),
    dayStart: new Date(dayStart),
    weekStart: new Date(weekStart),
    // a monthly window is current while start > now − 720 h
    monthAfter: new Date(now - MONTH_MS),
    dayEnd: new Date(dayEnd),
    weekEnd: new Date(weekEnd),
  };
}

/**
 * One set-based recomputation of the listed users' rows ($1), as of $5 (computed_at):
 *
 *   has_limit     any non-deleted row with a limit set (userFilterSql's "has a limit");
 *   spend_*       the sum of the current window's usage over the rows whose window is current
 *                 (start >= day / week start, monthly start > now − 720 h, or never started: the
 *                 read APIs report that usage as stored) and usage > 0 — exactly
 *                 quotaKeySql's spend branches (a user without such a row is 0 there too);
 *   cap           the highest usage / limit (the live query's numeric expression) over every window
 *                 that is current and limited (limit > 0) of every row, 0 if none;
 *   valid_until   the first instant spend_month or cap can change by a rollover alone: the next local
 *                 date if a limited daily window is current, the next local week if a limited weekly
 *                 one is, start + 720 h of each current monthly window that is limited or has usage;
 *                 'infinity' if none (spend_day / spend_week are read against day_start / week_start).
 *
 * Users without a non-deleted quota row lose their row. Existing rows are written only where $9 (the
 * rows statement 1 locked) lists them or $8 (overwrite) is set: the refresher does not overwrite a row
 * another transaction inserted after its lock (it retries that user with a fresh lock and snapshot).
 * A row whose values did not change is not rewritten (its computed_at stays that of the last change):
 * a sweep of unchanged users costs their locks, not 7 index entries each.
 * The user_id index of user_platform_quotas finds the rows (4 rows a user at most in the registry).
 */
const AGG_SQL = `
  SELECT q.user_id,
    bool_or(q.daily_limit_usd IS NOT NULL OR q.weekly_limit_usd IS NOT NULL OR q.monthly_limit_usd IS NOT NULL) AS has_limit,
    coalesce(sum(q.daily_usage_usd) FILTER (WHERE (q.daily_window_start >= $2 OR q.daily_window_start IS NULL) AND q.daily_usage_usd > 0), 0) AS spend_day,
    coalesce(sum(q.weekly_usage_usd) FILTER (WHERE (q.weekly_window_start >= $3 OR q.weekly_window_start IS NULL) AND q.weekly_usage_usd > 0), 0) AS spend_week,
    coalesce(sum(q.monthly_usage_usd) FILTER (WHERE (q.monthly_window_start > $4 OR q.monthly_window_start IS NULL) AND q.monthly_usage_usd > 0), 0) AS spend_month,
    coalesce(greatest(
      max(q.daily_usage_usd / q.daily_limit_usd) FILTER (WHERE (q.daily_window_start >= $2 OR q.daily_window_start IS NULL) AND q.daily_limit_usd > 0),
      max(q.weekly_usage_usd / q.weekly_limit_usd) FILTER (WHERE (q.weekly_window_start >= $3 OR q.weekly_window_start IS NULL) AND q.weekly_limit_usd > 0),
      max(q.monthly_usage_usd / q.monthly_limit_usd) FILTER (WHERE (q.monthly_window_start > $4 OR q.monthly_window_start IS NULL) AND q.monthly_limit_usd > 0)
    ), 0) AS cap,
    coalesce(least(
      CASE WHEN bool_or(q.daily_window_start >= $2 AND q.daily_limit_usd > 0) THEN $6::timestamptz END,
      CASE WHEN bool_or(q.weekly_window_start >= $3 AND q.weekly_limit_usd > 0) THEN $7::timestamptz END,
      min(q.monthly_window_start + interval '720 hours')
        FILTER (WHERE q.monthly_window_start > $4 AND (q.monthly_limit_usd > 0 OR q.monthly_usage_usd > 0))
    ), 'infinity') AS valid_until
  FROM user_platform_quotas q
  WHERE q.user_id = ANY($1::bigint[]) AND q.deleted_at IS NULL
  GROUP BY q.user_id
`;

const REFRESH_SQL = `WITH agg AS (${AGG_SQL}), ins AS (
  INSERT INTO user_quota_keys AS k (user_id, has_limit, day_start, spend_day, week_start, spend_week, spend_month, cap, valid_until, computed_at)
  SELECT a.user_id, a.has_limit, $2, a.spend_day, $3, a.spend_week, a.spend_month, a.cap, a.valid_until, $5
  FROM agg a ORDER BY a.user_id
  ON CONFLICT (user_id) DO UPDATE SET has_limit = EXCLUDED.has_limit, day_start = EXCLUDED.day_start,
    spend_day = EXCLUDED.spend_day, week_start = EXCLUDED.week_start, spend_week = EXCLUDED.spend_week,
    spend_month = EXCLUDED.spend_month, cap = EXCLUDED.cap, valid_until = EXCLUDED.valid_until,
    computed_at = EXCLUDED.computed_at
  WHERE ($8::boolean OR k.user_id = ANY($9::bigint[]))
    AND (k.has_limit, k.day_start, k.spend_day, k.week_start, k.spend_week, k.spend_month, k.cap, k.valid_until)
        IS DISTINCT FROM (EXCLUDED.has_limit, EXCLUDED.day_start, EXCLUDED.spend_day, EXCLUDED.week_start,
                          EXCLUDED.spend_week, EXCLUDED.spend_month, EXCLUDED.cap, EXCLUDED.valid_until)
  RETURNING k.user_id
), del AS (
  DELETE FROM user_quota_keys k WHERE k.user_id = ANY($10::bigint[])
    AND NOT EXISTS (SELECT 1 FROM agg a WHERE a.user_id = k.user_id)
  RETURNING k.user_id
)
SELECT (SELECT count(*) FROM agg)::int AS computed,
       (SELECT count(*) FROM ins)::int AS written,
       ARRAY(SELECT a.user_id::text FROM agg a
             WHERE NOT $8::boolean AND a.user_id <> ALL($9::bigint[]) AND a.user_id NOT IN (SELECT user_id FROM ins)) AS skipped,
       (SELECT count(*) FROM del)::int AS deleted`;

/**
 * Read-only: which of the listed users' rows differ from a recomputation at $5 (missing, extra or any
 * value) — the same parameters as REFRESH_SQL ($8–$10 unused). The sweep recomputes only those: a
 * row found unchanged needs no write, hence no lock (a concurrent writer's own recomputation stands).
 */
const DIFF_SQL = `WITH agg AS (${AGG_SQL}), k AS (SELECT * FROM user_quota_keys WHERE user_id = ANY($1::bigint[]))
SELECT coalesce(a.user_id, k.user_id)::text AS user_id FROM agg a FULL JOIN k ON k.user_id = a.user_id
WHERE $5::timestamptz IS NOT NULL AND (a.user_id IS NULL OR k.user_id IS NULL
   OR (k.has_limit, k.day_start, k.spend_day, k.week_start, k.spend_week, k.spend_month, k.cap, k.valid_until)
      IS DISTINCT FROM (a.has_limit, $2::timestamptz, a.spend_day, $3::timestamptz, a.spend_week, a.spend_month, a.cap, a.valid_until))`;

/** The users of `userIds` whose rows a recomputation at `now` would change (read-only, no locks). */
export async function staleQuotaKeys(
  db: Queryable,
  clock: QuotaClock,
  userIds: readonly (number | string)[],
  now = Date.now(),
): Promise<string[]> {
  if (userIds.length === 0) return [];
  const params = quotaKeysRefreshParams(clock, userIds, now, [], false).slice(0, 7);
  const { rows } = await db.query<{ user_id: string }>(DIFF_SQL, params);
  return rows.map((r) => r.user_id);
}

/** The refresh statement's text (the benchmark EXPLAINs it). */
export const QUOTA_KEYS_REFRESH_SQL = REFRESH_SQL;

/** Its parameters for `userIds` at `now` ($9 / $8 as refreshQuotaKeys passes them). */
export function quotaKeysRefreshParams(
  clock: QuotaClock,
  userIds: readonly (number | string)[],
  now: number,
  locked: readonly string[],
  overwrite: boolean,
): unknown[] {
  const b = quotaKeyBounds(clock, now);
  return [
    userIds.map(String),
    b.dayStart,
    b.weekStart,
    b.monthAfter,
    b.computedAt,
    b.dayEnd,
    b.weekEnd,
    overwrite,
    [...locked],
    // the rows a user without quota rows loses: the locked ones (writers: every listed user's)
    overwrite ? userIds.map(String) : [...locked],
  ];
}

/**
 * Recompute the rows of `userIds` as of `now`. Call it inside the transaction that changed those
 * users' quota rows, after the change (`db` its client): the rows then commit with it. Statement 1
 * locks the users' existing rows in id order (every caller locks in that order: no deadlock), so a
 * refresher's recomputation of the same user either finished before (and is overwritten here) or
 * starts after this commits (and sees it); statement 2 then reads with a fresh snapshot.
 *
 * `overwrite` (writers: true) also overwrites a row another transaction inserted after statement 1;
 * the refresher passes false and recomputes such users once more (they are locked then).
 */
export async function refreshQuotaKeys(
  db: Queryable,
  clock: QuotaClock,
  userIds: readonly (number | string)[],
  now = Date.now(),
  overwrite = true,
): Promise<{ computed: number; written: number; deleted: number }> {
  if (userIds.length === 0) return { computed: 0, written: 0, deleted: 0 };
  let ids = [...new Set(userIds.map(String))].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1));
  let computed = 0;
  let written = 0;
  let deleted = 0;
  for (let round = 0; round < 3 && ids.length > 0; round++) {
    const { rows: lockedRows } = await db.query<{ user_id: string }>(
      // ORDER BY the column, not the text output of the same name (text order would put 10 before 9)
      "SELECT k.user_id::text AS user_id FROM user_quota_keys k WHERE k.user_id = ANY($1::bigint[]) ORDER BY k.user_id FOR UPDATE",
      [ids],
    );
    const locked = lockedRows.map((r) => r.user_id);
    const { rows } = await db.query<{ computed: number; written: number; skipped: string[]; deleted: number }>(
      REFRESH_SQL,
      quotaKeysRefreshParams(clock, ids, now, locked, overwrite),
    );
    computed += rows[0].computed - rows[0].skipped.length;
    written += rows[0].written;
    deleted += rows[0].deleted;
    ids = rows[0].skipped;
  }
  return { computed, written, deleted };
}

/** Whether the table is complete: the first backfill finished (until then the list aggregates live). */
export async function quotaKeysComplete(db: Queryable): Promise<boolean> {
  const { rows } = await db.query<{ done: boolean }>(
    "SELECT backfill_after IS NULL AS done FROM user_quota_keys_state WHERE name = $1",
    [STATE_NAME],
  );
  return rows[0]?.done ?? false;
}

const STATE_NAME = "refresher";
/** The refresher's advisory lock (session-level, held for one tick): one instance ticks at a time. */
const LOCK_SQL = "SELECT pg_try_advisory_lock(hashtext('quota_console.user_quota_keys')) AS ok";
const UNLOCK_SQL = "SELECT pg_advisory_unlock(hashtext('quota_console.user_quota_keys'))";

export type QuotaKeysRefresherConfig = {
  /** pause between ticks (default 5 s) */
  intervalMs: number;
  /** change markers consumed per tick at most (one transaction) */
  changesBatch: number;
  /** rows whose valid_until passed, recomputed per tick at most (one transaction) */
  expiredBatch: number;
  /** users swept per tick (by id, wrapping around): catches every other change within a cycle */
  sweepBatch: number;
  /** users per backfill transaction */
  backfillBatch: number;
  /** a tick runs backfill batches for at most this long */
  backfillBudgetMs: number;
};

export function normalizeQuotaKeysConfig(c: Partial<QuotaKeysRefresherConfig> = {}): QuotaKeysRefresherConfig {
  const pos = (v: number | undefined, d: number) => (v !== undefined && Number.isSafeInteger(v) && v > 0 ? v : d);
  return {
    intervalMs: Math.max(pos(c.intervalMs, 5000), 100),
    changesBatch: pos(c.changesBatch, 20_000),
    expiredBatch: pos(c.expiredBatch, 20_000),
    sweepBatch: pos(c.sweepBatch, 20_000),
    backfillBatch: pos(c.backfillBatch, 10_000),
    backfillBudgetMs: pos(c.backfillBudgetMs, 4000),
  };
}

export type QuotaKeysTick =
  | { status: "busy" }
  | {
      status: "done";
      /** users recomputed because their usage was marked changed */
      changed: number;
      /** rows recomputed because their valid_until passed */
      expired: number;
      /** users of the sweep's range */
      swept: number;
      /** users of backfill batches run in this tick; backfillDone once the first fill completed */
      backfilled: number;
      backfillDone: boolean;
    };

/**
 * Keeps user_quota_keys fresh for what the console's own writers do not write (they recompute in
 * their transaction): each tick, behind a session advisory lock (one instance at a time),
 *
 *   backfill  until the first fill completed, batches of users by id (bounded per transaction, at
 *             most backfillBudgetMs a tick), its cursor in user_quota_keys_state;
 *   (a)       the users whose usage changed since the last tick: the markers the usage-history
 *             writers leave in user_quota_key_changes in the usage's own transaction (direct
 *             increments, the flusher's snapshots, attached the usage_logs reader) — consumed with
 *             SKIP LOCKED, so a marker whose transaction has not committed waits for the next tick;
 *   (b)       rows whose valid_until passed (oldest first, at most a batch);
 *   (c)       the next sweepBatch users by id (anything else, e.g. limits changed by SQL on the gateway).
 *
 * Each step is its own transaction: a marker is deleted in the transaction that recomputes its user.
 */
export class QuotaKeysRefresher {
  readonly config: QuotaKeysRefresherConfig;

  private readonly loop: IntervalLoop;

  constructor(
    private readonly deps: {
      pool: pg.Pool;
      clock: QuotaClock;
      logger?: { warn: (msg: string, meta?: unknown) => void };
    },
    config: Partial<QuotaKeysRefresherConfig> = {},
  ) {
    this.config = normalizeQuotaKeysConfig(config);
    this.loop = new IntervalLoop(
      () => this.tick(),
      this.config.intervalMs,
      (e) => this.deps.logger?.warn("users list: quota keys refresh failed", { error: String(e) }),
    );
  }

  /** One tick (see the class). `now` is the instant the rows are computed as of. */
  async tick(now = Date.now()): Promise<QuotaKeysTick> {
    const c = await this.deps.pool.connect();
    let locked = false;
    try {
      locked = (await c.query<{ ok: boolean }>(LOCK_SQL)).rows[0].ok;
      if (!locked) return { status: "busy" };
      await c.query("INSERT INTO user_quota_keys_state (name) VALUES ($1) ON CONFLICT (name) DO NOTHING", [STATE_NAME]);
      const { backfilled, backfillDone } = await this.backfill(c, now);
      const changed = await this.inTx(c, async () => {
        const { rows } = await c.query<{ user_id: string }>(
          `DELETE FROM user_quota_key_changes m USING (
             SELECT user_id, platform FROM user_quota_key_changes ORDER BY user_id, platform
             LIMIT $1 FOR UPDATE SKIP LOCKED) x
           WHERE m.user_id = x.user_id AND m.platform = x.platform RETURNING m.user_id::text`,
          [this.config.changesBatch],
        );
        const ids = [...new Set(rows.map((r) => r.user_id))];
        await refreshQuotaKeys(c, this.deps.clock, ids, now, false);
        return ids.length;
      });
      const expired = await this.inTx(c, async () => {
        const { rows } = await c.query<{ user_id: string }>(
          `SELECT user_id::text FROM user_quota_keys WHERE valid_until <= $1 ORDER BY valid_until LIMIT $2`,
          [new Date(now), this.config.expiredBatch],
        );
        await refreshQuotaKeys(
          c,
          this.deps.clock,
          rows.map((r) => r.user_id),
          now,
          false,
        );
        return rows.length;
      });
      const swept = await this.inTx(c, () => this.sweep(c, now));
      return { status: "done", changed, expired, swept, backfilled, backfillDone };
    } finally {
      if (locked) await c.query(UNLOCK_SQL).catch(() => {});
      c.release();
    }
  }

  private async inTx<T>(c: pg.PoolClient, fn: () => Promise<T>): Promise<T> {
    await c.query("BEGIN");
    try {
      const out = await fn();
      await c.query("COMMIT");
      return out;
    } catch (e) {
      await c.query("ROLLBACK").catch(() => {});
      throw e;
    }
  }

  /**
   * The users of (after, upto], `upto` the `limit`-th user id after `after` (null: to the end): the
   * users' ids and those of key rows in that range whose user is gone (their rows are deleted).
   */
  private async range(c: pg.PoolClient, after: string, limit: number): Promise<{ ids: string[]; upto: string | null }> {
    const { rows } = await c.query<{ id: string }>(
      "SELECT u.id::text AS id FROM users u WHERE u.id > $1 ORDER BY u.id LIMIT $2",
      [after, limit],
    );
    const upto = rows.length < limit ? null : rows[rows.length - 1].id;
    const { rows: orphans } = await c.query<{ id: string }>(
      `SELECT k.user_id::text AS id FROM user_quota_keys k
       WHERE k.user_id > $1 AND ($2::bigint IS NULL OR k.user_id <= $2)
         AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = k.user_id)`,
      [after, upto],
    );
    return { ids: [...rows.map((r) => r.id), ...orphans.map((r) => r.id)], upto };
  }

  private async backfill(c: pg.PoolClient, now: number): Promise<{ backfilled: number; backfillDone: boolean }> {
    const started = Date.now();
    let backfilled = 0;
    for (;;) {
      const step = await this.inTx(c, async () => {
        const { rows } = await c.query<{ after: string | null }>(
          "SELECT backfill_after::text AS after FROM user_quota_keys_state WHERE name = $1 FOR UPDATE",
          [STATE_NAME],
        );
        const after = rows[0].after;
        if (after === null) return { done: true, n: 0 };
        const { ids, upto } = await this.range(c, after, this.config.backfillBatch);
        await refreshQuotaKeys(c, this.deps.clock, ids, now, false);
        await c.query("UPDATE user_quota_keys_state SET backfill_after = $2, updated_at = now() WHERE name = $1", [
          STATE_NAME,
          upto,
        ]);
        return { done: upto === null, n: ids.length };
      });
      backfilled += step.n;
      if (step.done) return { backfilled, backfillDone: true };
      if (Date.now() - started >= this.config.backfillBudgetMs) return { backfilled, backfillDone: false };
    }
  }

  private async sweep(c: pg.PoolClient, now: number): Promise<number> {
    const { rows } = await c.query<{ after: string }>(
      "SELECT sweep_after::text AS after FROM user_quota_keys_state WHERE name = $1 FOR UPDATE",
      [STATE_NAME],
    );
    const { ids, upto } = await this.range(c, rows[0].after, this.config.sweepBatch);
    // Read first, then lock and rewrite only the users whose rows differ (usually few).
    await refreshQuotaKeys(c, this.deps.clock, await staleQuotaKeys(c, this.deps.clock, ids, now), now, false);
    await c.query("UPDATE user_quota_keys_state SET sweep_after = $2, updated_at = now() WHERE name = $1", [
      STATE_NAME,
      upto ?? "0",
    ]);
    return ids.length;
  }

  start(): void {
    this.loop.start(0);
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }
}
