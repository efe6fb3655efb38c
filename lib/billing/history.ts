import type pg from "pg";

import type { QuotaClock } from "./windows";

/**
 * Usage history (issue 15, docs/consistency.md §7): every recorded cost also lands in
 * `quota_console.usage_rollup_hourly` (user × platform × local hour of the quota time zone), in the
 * same transaction as the usage it mirrors — so it is exactly once wherever the usage is:
 *
 *   direct mode    the increment's own simple-query message (usage-writes.ts: one more statement
 *                  after the UPDATE, no extra round trip, committed with the commit marker);
 *   flusher mode   the snapshot's transaction (quota-repo.ts snapshotLocked): the increase the snapshot
 *                  writes over the locked row, computed in SQL from the row it replaces — a snapshot
 *                  flushed twice adds nothing the second time;
 *   attached       the usage_logs reader (usage-log-rollup.ts), by id watermark, in the batch's transaction.
 *
 * Finished days are summed into `usage_rollup_daily` (downsample), hourly rows older than the
 * retention are deleted in the same transaction as the daily rows that replace them.
 */

const HOUR_MS = 3_600_000;

/**
 * The bucket of an instant: the start of its hour counted from the start of its quota day (so on a
 * day with a DST change the buckets still tile the day exactly, and a day is always a whole number
 * of buckets even in zones offset by 30 or 45 minutes).
 */
export function hourBucket(clock: QuotaClock, at: number): number {
  const sod = clock.startOfDay(at);
  return sod + Math.floor((at - sod) / HOUR_MS) * HOUR_MS;
}

export type HistoryRetention = {
  /** hourly buckets are kept this many days (then only the daily sums remain); default 90 */
  hourlyDays: number;
  /** daily sums are kept this many days; null = forever (default) */
  dailyDays: number | null;
};

/** USAGE_HISTORY_HOURLY_DAYS (default 90, at least 2) and USAGE_HISTORY_DAILY_DAYS (default: forever). */
export function historyRetentionFromEnv(env: NodeJS.ProcessEnv = process.env): HistoryRetention {
  const int = (name: string, v: string | undefined, min: number): number | null => {
    if (v === undefined || v.trim() === "" || v.trim() === "forever") return null;
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min} (got ${v})`);
    return n;
  };
  const hourlyDays = int("USAGE_HISTORY_HOURLY_DAYS", env.USAGE_HISTORY_HOURLY_DAYS, 2) ?? 90;
  const dailyDays = int("USAGE_HISTORY_DAILY_DAYS", env.USAGE_HISTORY_DAILY_DAYS, 1);
  if (dailyDays !== null && dailyDays < hourlyDays)
    throw new Error("USAGE_HISTORY_DAILY_DAYS must be >= USAGE_HISTORY_HOURLY_DAYS");
  return { hourlyDays, dailyDays };
}

/**
 * The rollup statement of a direct-mode increment, for the simple-query message (every value already
 * a validated SQL literal). Written after the quota UPDATE, so every writer locks the quota row
 * before the rollup row (the flusher too): no deadlock between them.
 */
export function rollupInsertSql(
  items: Array<{ user: string; platform: string; bucket: string; cost: string }>,
): string {
  if (items.length === 0) return "";
  const values = items.map((i) => `(${i.user}::bigint, ${i.platform}::varchar, ${i.bucket}, ${i.cost})`).join(", ");
  return `WITH ro AS (INSERT INTO usage_rollup_hourly AS r (user_id, platform, bucket_start, cost, requests)
  SELECT v.u, v.p, v.b, sum(round(v.c, 10)), count(*) FROM (VALUES ${values}) AS v(u, p, b, c)
  GROUP BY v.u, v.p, v.b ORDER BY v.u, v.b, v.p
  ON CONFLICT (user_id, bucket_start, platform) DO UPDATE SET cost = r.cost + EXCLUDED.cost, requests = r.requests + EXCLUDED.requests
  RETURNING r.user_id, r.platform)
  ${MARK_KEY_CHANGES_FROM_RO}`;
}

/**
 * The users list's quota keys (lib/users/quota-keys.ts): the (user, platform) keys of the rollup rows
 * `ro` just wrote are marked changed, in the same statement — the refresher's per-tick work is the
 * keys marked since its last tick. DO UPDATE (not DO NOTHING) so that an existing marker is locked
 * by this transaction until it commits: the refresher skips locked markers (SKIP LOCKED), so it never
 * consumes a marker before the usage it announces is visible. The markers are locked after the quota
 * and rollup rows, in (user, platform) order, like every writer: no deadlock. Its row count is the
 * rollup's (one marker per written key), which the direct write reads as "the UPDATE found the row".
 */
export const MARK_KEY_CHANGES_FROM_RO = `INSERT INTO user_quota_key_changes AS m (user_id, platform)
  SELECT DISTINCT ro.user_id, ro.platform FROM ro ORDER BY 1, 2
  ON CONFLICT (user_id, platform) DO UPDATE SET marked_at = EXCLUDED.marked_at`;

/**
 * The direct increment's UPDATE and its bucket as ONE statement: the bucket is written only if the
 * UPDATE found the row (its RETURNING feeds the INSERT), after the row was locked. The statement's
 * rowCount is 1 when the row was there, 0 when not (then the upsert and rollupInsertSql follow).
 */
export function rollupAfterUpdateSql(
  update: string,
  i: { user: string; platform: string; bucket: string; cost: string },
): string {
  return `WITH upd AS (${update} RETURNING 1),
  ro AS (INSERT INTO usage_rollup_hourly AS r (user_id, platform, bucket_start, cost, requests)
  SELECT ${i.user}, ${i.platform}, ${i.bucket}, round(${i.cost}, 10), 1 FROM upd
  ON CONFLICT (user_id, bucket_start, platform) DO UPDATE SET cost = r.cost + EXCLUDED.cost, requests = r.requests + EXCLUDED.requests
  RETURNING r.user_id, r.platform)
  ${MARK_KEY_CHANGES_FROM_RO}`;
}

/**
 * The flusher's rollup rows for a batch of snapshots, run in the snapshot's transaction after the
 * rows were locked and BEFORE they are overwritten: the increase each snapshot writes over its row.
 * Parameters: $1..$8 the snapshot columns (as the UPDATE), $9 the bucket of "now" within each
 * snapshot's daily window, $10 the last bucket of the day before that window.
 *
 *   daily window unchanged   today's increase = new daily − old daily
 *   daily window moved       today's increase = new daily (all of the new day is unflushed); the rest
 *                            of the increase — from the weekly window if it did not move, else the
 *                            monthly one, else (a new monthly window) new monthly − new daily — went
 *                            to the day before the new one.
 *
 * A decrease (an admin reset whose Redis apply has not reached this snapshot yet) is written as it
 * is: it cancels the increase counted by the snapshot before it, so the sums stay the row's growth.
 */
export const FLUSH_ROLLUP_SQL = `
INSERT INTO usage_rollup_hourly AS r (user_id, platform, bucket_start, cost, requests)
SELECT x.user_id, x.platform, x.bucket, sum(x.amount), 0
FROM (
  SELECT s.user_id, s.platform, b.bucket, b.amount
  FROM unnest($1::bigint[], $2::text[], $3::numeric[], $4::numeric[], $5::numeric[],
              $6::timestamptz[], $7::timestamptz[], $8::timestamptz[], $9::timestamptz[], $10::timestamptz[])
       AS s(user_id, platform, du, wu, mu, ds, ws, ms, b_now, b_prev)
  JOIN user_platform_quotas q ON q.user_id = s.user_id AND q.platform = s.platform AND q.deleted_at IS NULL
  CROSS JOIN LATERAL (
    SELECT CASE WHEN q.daily_window_start = s.ds THEN round(s.du, 10) - q.daily_usage_usd ELSE round(s.du, 10) END AS today,
           CASE WHEN q.daily_window_start = s.ds THEN 0
                WHEN q.weekly_window_start = s.ws THEN round(s.wu, 10) - q.weekly_usage_usd - round(s.du, 10)
                WHEN q.monthly_window_start = s.ms THEN round(s.mu, 10) - q.monthly_usage_usd - round(s.du, 10)
                ELSE round(s.mu, 10) - round(s.du, 10) END AS before
  ) d
  CROSS JOIN LATERAL (VALUES (s.b_now, d.today), (s.b_prev, d.before)) AS b(bucket, amount)
  WHERE b.amount <> 0
) x
GROUP BY x.user_id, x.platform, x.bucket ORDER BY x.user_id, x.bucket, x.platform
ON CONFLICT (user_id, bucket_start, platform) DO UPDATE SET cost = r.cost + EXCLUDED.cost`;

/** $9/$10 of FLUSH_ROLLUP_SQL for a snapshot whose daily window starts at `dailyStart`, flushed at `now`. */
export function flushBuckets(clock: QuotaClock, dailyStart: number, now: number): [Date, Date] {
  const nextDay = clock.startOfDay(dailyStart + 36 * HOUR_MS);
  const at = Math.min(Math.max(now, dailyStart), nextDay - 1);
  return [new Date(hourBucket(clock, at)), new Date(hourBucket(clock, dailyStart - 1))];
}

type Queryable = Pick<pg.Pool, "query">;

/**
 * Downsample and apply the retention, in one transaction: every finished quota day that still has
 * hourly rows gets its daily rows recomputed from them (absolute: running it again changes nothing),
 * then hourly rows of days older than `hourlyDays` and daily rows older than `dailyDays` are deleted.
 * `days` bounds the work of one run (the oldest days first). Returns what it did.
 */
export async function downsampleHistory(
  pool: pg.Pool,
  clock: QuotaClock,
  retention: HistoryRetention,
  now = Date.now(),
  maxDays = 40,
): Promise<{ days: number; hourlyDeleted: number; dailyDeleted: number }> {
  const today = clock.startOfDay(now);
  const hourlyCutoff = dayStartBefore(clock, today, retention.hourlyDays);
  const c = await pool.connect();
  try {
    await c.query("BEGIN");
    // One downsampler at a time (several console instances): the others skip this run.
    const { rows: lock } = await c.query<{ ok: boolean }>(
      "SELECT pg_try_advisory_xact_lock(hashtext('quota_console.usage_rollup_downsample')) AS ok",
    );
    if (!lock[0].ok) {
      await c.query("ROLLBACK");
      return { days: 0, hourlyDeleted: 0, dailyDeleted: 0 };
    }
    // The days to (re)compute, oldest first: every day whose hourly rows the retention removes now
    // (summed in this transaction, right before), then from two days before the last downsampled
    // day to yesterday (ops written late — a retry, a parked op — land in their own hour).
    const { rows: pending } = await c.query<{ d: string; expiring: boolean }>(
      `WITH b AS (SELECT (SELECT max(day) FROM usage_rollup_daily) AS last,
                         (SELECT (min(bucket_start) AT TIME ZONE $1)::date FROM usage_rollup_hourly) AS first,
                         ($2::timestamptz AT TIME ZONE $1)::date AS today,
                         ($4::timestamptz AT TIME ZONE $1)::date AS cutoff)
       SELECT g::date::text AS d, g::date < b.cutoff AS expiring FROM b,
         generate_series(b.first, b.today - 1, interval '1 day') g
       WHERE b.first IS NOT NULL AND (g::date < b.cutoff OR g::date >= COALESCE(b.last - 2, b.first))
       ORDER BY 1 LIMIT $3`,
      [clock.timeZone, new Date(today), maxDays, new Date(hourlyCutoff)],
    );
    for (const { d } of pending) {
      await c.query(
        `INSERT INTO usage_rollup_daily AS r (user_id, platform, day, cost, requests)
         SELECT user_id, platform, $2::date, sum(cost), sum(requests) FROM usage_rollup_hourly
         WHERE bucket_start >= ($2::date::timestamp AT TIME ZONE $1) AND bucket_start < (($2::date + 1)::timestamp AT TIME ZONE $1)
         GROUP BY user_id, platform
         ON CONFLICT (user_id, day, platform) DO UPDATE SET cost = EXCLUDED.cost, requests = EXCLUDED.requests`,
        [clock.timeZone, d],
      );
      // All users' totals of the day (the admin overview reads these, not a million daily rows).
      await c.query(
        `INSERT INTO usage_rollup_platform_daily AS t (day, platform, cost, requests, users)
         SELECT day, platform, sum(cost), sum(requests), count(*) FROM usage_rollup_daily WHERE day = $1::date
         GROUP BY day, platform
         ON CONFLICT (day, platform) DO UPDATE SET cost = EXCLUDED.cost, requests = EXCLUDED.requests, users = EXCLUDED.users`,
        [d],
      );
    }
    // Only the expiring days just summed lose their hourly rows (a run cut short by maxDays deletes
    // up to where it got; the next run goes on).
    const expiring = pending.filter((p) => p.expiring);
    let hourlyDeleted = 0;
    if (expiring.length > 0) {
      const h = await c.query(
        "DELETE FROM usage_rollup_hourly WHERE bucket_start < (($1::date + 1)::timestamp AT TIME ZONE $2)",
        [expiring[expiring.length - 1].d, clock.timeZone],
      );
      hourlyDeleted = h.rowCount ?? 0;
    }
    let dailyDeleted = 0;
    if (retention.dailyDays !== null) {
      const before = [new Date(dayStartBefore(clock, today, retention.dailyDays)), clock.timeZone];
      const r = await c.query(
        "DELETE FROM usage_rollup_daily WHERE day < ($1::timestamptz AT TIME ZONE $2)::date",
        before,
      );
      await c.query(
        "DELETE FROM usage_rollup_platform_daily WHERE day < ($1::timestamptz AT TIME ZONE $2)::date",
        before,
      );
      dailyDeleted = r.rowCount ?? 0;
    }
    await c.query("COMMIT");
    return { days: pending.length, hourlyDeleted, dailyDeleted };
  } catch (e) {
    await c.query("ROLLBACK").catch(() => {});
    throw e;
  } finally {
    c.release();
  }
}

/** The start of the quota day `n` days before the day starting at `dayStart`. */
export function dayStartBefore(clock: QuotaClock, dayStart: number, n: number): number {
  let d = dayStart;
  for (let i = 0; i < n; i++) d = clock.startOfDay(d - 12 * HOUR_MS);
  return d;
}

export type HistoryRow = { day: string; platform: string; cost: string; requests: number };

/**
 * Cost and requests per quota day × platform for one user over the last `days` days (today
 * included): the hourly buckets where they are kept, the daily sums before that. Index-backed: a
 * range scan of each table's primary key (user_id, time, platform).
 */
export async function userHistory(
  db: Queryable,
  clock: QuotaClock,
  retention: HistoryRetention,
  opts: { userId: number; days: number; platform?: string | null; now?: number },
): Promise<HistoryRow[]> {
  const { from, split } = ranges(clock, retention, opts.days, opts.now ?? Date.now());
  const { rows } = await db.query<{ day: string; platform: string; cost: string; requests: string }>(
    `SELECT day::text AS day, platform, sum(cost)::text AS cost, sum(requests)::text AS requests FROM (
       SELECT day, platform, cost, requests FROM usage_rollup_daily
       WHERE user_id = $1 AND day >= ($2::timestamptz AT TIME ZONE $4)::date AND day < ($3::timestamptz AT TIME ZONE $4)::date
         AND ($5::text IS NULL OR platform = $5)
       UNION ALL
       SELECT (bucket_start AT TIME ZONE $4)::date, platform, cost, requests FROM usage_rollup_hourly
       WHERE user_id = $1 AND bucket_start >= $3 AND ($5::text IS NULL OR platform = $5)
     ) t GROUP BY day, platform ORDER BY day, platform`,
    [opts.userId, new Date(from), new Date(split), clock.timeZone, opts.platform ?? null],
  );
  return rows.map((r) => ({ day: r.day, platform: r.platform, cost: r.cost, requests: Number(r.requests) }));
}

export type OverviewRow = HistoryRow & { users: number };

/** The history worker recomputes today's overview snapshot this often (history-runtime.ts). */
export const TODAY_SNAPSHOT_EVERY_MS = 60_000;
/** A snapshot older than this is not used (two missed refreshes and the compute time fit in it). */
export const TODAY_SNAPSHOT_FRESH_MS = 150_000;
/**
 * Below this aggregation time the overview aggregates today live (exact at once): the snapshot is
 * for installations where today's hourly rows are too many for a page request (a million users:
 * ~800k rows, 0.7–1.2 s). 50 ms is what a live read may add to the page.
 */
export const TODAY_LIVE_BELOW_MS = 50;

/**
 * Recompute today's all-users totals per platform (usage_rollup_platform_today) from the hourly
 * buckets, replacing the previous snapshot, in one transaction (one refresher at a time: an
 * advisory lock). `computed_at` is the aggregating statement's start, where its snapshot was taken,
 * so the row says exactly which writes it holds. Returns the aggregation time, or null if another
 * refresher held the lock.
 */
export async function refreshTodayOverview(
  pool: pg.Pool,
  clock: QuotaClock,
  now = Date.now(),
): Promise<{ ms: number; platforms: number } | null> {
  const today = clock.startOfDay(now);
  const tomorrow = clock.startOfDay(today + 36 * HOUR_MS);
  const c = await pool.connect();
  try {
    await c.query("BEGIN");
    const { rows: lock } = await c.query<{ ok: boolean }>(
      "SELECT pg_try_advisory_xact_lock(hashtext('quota_console.usage_rollup_platform_today')) AS ok",
    );
    if (!lock[0].ok) {
      await c.query("ROLLBACK");
      return null;
    }
    await c.query("DELETE FROM usage_rollup_platform_today");
    const started = performance.now();
    const r = await c.query(
      `INSERT INTO usage_rollup_platform_today (day, platform, cost, requests, users, computed_at, compute_ms)
       SELECT ($1::timestamptz AT TIME ZONE $3)::date, platform, sum(cost), sum(requests), count(DISTINCT user_id),
              statement_timestamp(), 0
       FROM usage_rollup_hourly WHERE bucket_start >= $1 AND bucket_start < $2 GROUP BY platform`,
      [new Date(today), new Date(tomorrow), clock.timeZone],
    );
    const ms = Math.ceil(performance.now() - started);
    await c.query("UPDATE usage_rollup_platform_today SET compute_ms = $1", [ms]);
    await c.query("COMMIT");
    return { ms, platforms: r.rowCount ?? 0 };
  } catch (e) {
    await c.query("ROLLBACK").catch(() => {});
    throw e;
  } finally {
    c.release();
  }
}

/**
 * Every user's cost per quota day × platform over the last `days` days (admin overview). Finished
 * days come from usage_rollup_platform_daily (one row per day × platform, written by the
 * downsampler) once downsampled; days not downsampled yet from the hourly buckets ((bucket_start,
 * platform) index). Today: live from the hourly buckets too — unless today's snapshot
 * (refreshTodayOverview) is fresh (≤ TODAY_SNAPSHOT_FRESH_MS old) and took ≥ TODAY_LIVE_BELOW_MS to
 * compute; then today is the snapshot, which lags the hourly rows by at most TODAY_SNAPSHOT_FRESH_MS.
 * `today_as_of` says which: null when today was read live, else the snapshot's instant.
 */
export async function overviewHistory(
  db: Queryable,
  clock: QuotaClock,
  opts: { days: number; platform?: string | null; now?: number },
): Promise<{ rows: OverviewRow[]; todayAsOf: string | null }> {
  const now = opts.now ?? Date.now();
  const today = clock.startOfDay(now);
  const from = dayStartBefore(clock, today, Math.max(0, opts.days - 1));
  // First: is there a usable snapshot of today? (Its own statement: a query that merely could
  // aggregate today's hourly rows is costed as if it did, which at a million users crosses
  // PostgreSQL's JIT threshold and adds ~30 ms of compilation to a 0.1 ms read.)
  const { rows: snap } = await db.query<{ at: Date | null }>(
    `SELECT max(computed_at) AS at FROM usage_rollup_platform_today
     WHERE day = ($1::timestamptz AT TIME ZONE $2)::date AND computed_at >= $3::timestamptz AND compute_ms >= $4`,
    [new Date(today), clock.timeZone, new Date(now - TODAY_SNAPSHOT_FRESH_MS), TODAY_LIVE_BELOW_MS],
  );
  const snapshotAt = snap[0]?.at ?? null;
  const todayPart = snapshotAt
    ? `SELECT day, platform, cost, requests, users FROM usage_rollup_platform_today
       WHERE day = ($2::timestamptz AT TIME ZONE $3)::date AND ($4::text IS NULL OR platform = $4)`
    : `SELECT ($2::timestamptz AT TIME ZONE $3)::date AS day, platform, sum(cost) AS cost, sum(requests) AS requests,
              count(DISTINCT user_id) AS users
       FROM usage_rollup_hourly WHERE bucket_start >= $2::timestamptz AND bucket_start < $5::timestamptz
         AND ($4::text IS NULL OR platform = $4)
       GROUP BY 2`;
  const { rows } = await db.query<{ day: string; platform: string; cost: string; requests: string; users: string }>(
    `WITH d AS (
       SELECT day, platform, cost, requests, users FROM usage_rollup_platform_daily
       WHERE day >= ($1::timestamptz AT TIME ZONE $3)::date AND day < ($2::timestamptz AT TIME ZONE $3)::date
         AND ($4::text IS NULL OR platform = $4)
     ), h AS (
       -- finished days not downsampled yet: a range of the (bucket_start, platform) index
       SELECT (bucket_start AT TIME ZONE $3)::date AS day, platform, sum(cost) AS cost, sum(requests) AS requests,
              count(DISTINCT user_id) AS users
       FROM usage_rollup_hourly
       WHERE bucket_start >= GREATEST($1::timestamptz,
               COALESCE(((SELECT max(day) FROM usage_rollup_platform_daily) + 1)::timestamp AT TIME ZONE $3, $1::timestamptz))
         AND bucket_start < $2::timestamptz
         AND ($4::text IS NULL OR platform = $4)
       GROUP BY 1, 2
     ), t AS (${todayPart})
     SELECT day::text AS day, platform, cost::text AS cost, requests::text AS requests, users::text AS users
     FROM (SELECT * FROM d UNION ALL SELECT * FROM h UNION ALL SELECT * FROM t) u
     ORDER BY 1, 2`,
    // $5 (live only): tomorrow's start — a bucket of a later day (an op recorded with a future instant) is not today's
    [
      new Date(from),
      new Date(today),
      clock.timeZone,
      opts.platform ?? null,
      ...(snapshotAt ? [] : [new Date(clock.startOfDay(today + 36 * HOUR_MS))]),
    ],
  );
  return {
    rows: rows.map((r) => ({
      day: r.day,
      platform: r.platform,
      cost: r.cost,
      requests: Number(r.requests),
      users: Number(r.users),
    })),
    todayAsOf: snapshotAt ? new Date(snapshotAt).toISOString() : null,
  };
}

/** The first day of a `days`-day range ending today, and where the hourly rows take over from the daily ones. */
function ranges(clock: QuotaClock, retention: HistoryRetention, days: number, now: number) {
  const today = clock.startOfDay(now);
  const from = dayStartBefore(clock, today, Math.max(0, days - 1));
  // Hourly rows are complete from the retention cutoff on (the downsampler deletes only older ones).
  const split = Math.max(from, dayStartBefore(clock, today, retention.hourlyDays - 1));
  return { from, split };
}
