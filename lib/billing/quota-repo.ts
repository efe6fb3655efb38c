import type pg from "pg";
import { formatGoFloat } from "./encoding";
import { PLATFORMS } from "./platforms";
import type { QuotaClock, Window } from "./windows";

/**
 * PostgreSQL repository of `user_platform_quotas` (spec §1.3), in plain SQL on a node-postgres
 * pool (the app shares its pool with Prisma). Every read-modify-write is one SQL statement or one
 * transaction, so concurrent writers from this process, other instances and the Go gateway never
 * lose an update.
 */
export type QuotaLimits = { daily: number | null; weekly: number | null; monthly: number | null };

export type QuotaRow = {
  id: number;
  userId: number;
  platform: string;
  dailyLimit: number | null;
  weeklyLimit: number | null;
  monthlyLimit: number | null;
  dailyUsage: number;
  weeklyUsage: number;
  monthlyUsage: number;
  /** epoch ms or null */
  dailyWindowStart: number | null;
  weeklyWindowStart: number | null;
  monthlyWindowStart: number | null;
  createdAt: number;
  updatedAt: number;
};

export type UsageSnapshot = {
  userId: number;
  platform: string;
  dailyUsage: number;
  weeklyUsage: number;
  monthlyUsage: number;
  dailyWindowStart: number;
  weeklyWindowStart: number;
  monthlyWindowStart: number;
};

export class QuotaNotFoundError extends Error {
  readonly code = "USER_PLATFORM_QUOTA_NOT_FOUND";
  constructor() {
    super("user platform quota not found");
  }
}

export class QuotaFkViolationError extends Error {
  readonly code = "USER_PLATFORM_QUOTA_FK_VIOLATION";
  constructor(cause: unknown) {
    super("user platform quota snapshot FK violation", { cause });
  }
}

/** Rows per BatchSnapshotUsage statement (the gateway's batchRows). */
export const SNAPSHOT_CHUNK_ROWS = 6000;

export const QUOTA_COLUMNS = `id, user_id, platform,
  daily_limit_usd::float8 AS daily_limit, weekly_limit_usd::float8 AS weekly_limit, monthly_limit_usd::float8 AS monthly_limit,
  daily_usage_usd::float8 AS daily_usage, weekly_usage_usd::float8 AS weekly_usage, monthly_usage_usd::float8 AS monthly_usage,
  daily_window_start, weekly_window_start, monthly_window_start, created_at, updated_at`;

export type RawRow = {
  id: string;
  user_id: string;
  platform: string;
  daily_limit: number | null;
  weekly_limit: number | null;
  monthly_limit: number | null;
  daily_usage: number;
  weekly_usage: number;
  monthly_usage: number;
  daily_window_start: Date | null;
  weekly_window_start: Date | null;
  monthly_window_start: Date | null;
  created_at: Date;
  updated_at: Date;
};

const ms = (d: Date | null) => (d === null ? null : d.getTime());

export function toRow(r: RawRow): QuotaRow {
  return {
    id: Number(r.id),
    userId: Number(r.user_id),
    platform: r.platform,
    dailyLimit: r.daily_limit,
    weeklyLimit: r.weekly_limit,
    monthlyLimit: r.monthly_limit,
    dailyUsage: r.daily_usage,
    weeklyUsage: r.weekly_usage,
    monthlyUsage: r.monthly_usage,
    dailyWindowStart: ms(r.daily_window_start),
    weeklyWindowStart: ms(r.weekly_window_start),
    monthlyWindowStart: ms(r.monthly_window_start),
    createdAt: r.created_at.getTime(),
    updatedAt: r.updated_at.getTime(),
  };
}

/** A limit or amount as an exact numeric literal; refuses NaN/±Inf/negative (PostgreSQL would store 'NaN'). */
function num(v: number | null, what: string): string | null {
  if (v === null) return null;
  if (!Number.isFinite(v) || v < 0) throw new Error(`${what} must be a finite number >= 0, got ${v}`);
  return formatGoFloat(v);
}

const WINDOW_COLUMNS: Record<Window, { usage: string; start: string }> = {
  daily: { usage: "daily_usage_usd", start: "daily_window_start" },
  weekly: { usage: "weekly_usage_usd", start: "weekly_window_start" },
  monthly: { usage: "monthly_usage_usd", start: "monthly_window_start" },
};

type Queryable = Pick<pg.Pool, "query">;

// $1 user, $2 platform, $3 cost, $4 start of day, $5 start of week, $6 now.
const INCREMENT_SET = `
  daily_usage_usd = CASE WHEN q.daily_window_start IS NOT DISTINCT FROM $4 THEN q.daily_usage_usd + $3::numeric ELSE $3::numeric END,
  weekly_usage_usd = CASE WHEN q.weekly_window_start IS NOT DISTINCT FROM $5 THEN q.weekly_usage_usd + $3::numeric ELSE $3::numeric END,
  monthly_usage_usd = CASE WHEN q.monthly_window_start IS NULL OR $6 - q.monthly_window_start >= interval '720 hours'
                           THEN $3::numeric ELSE q.monthly_usage_usd + $3::numeric END,
  monthly_window_start = CASE WHEN q.monthly_window_start IS NULL OR $6 - q.monthly_window_start >= interval '720 hours'
                              THEN $6 ELSE q.monthly_window_start END,
  daily_window_start = $4,
  weekly_window_start = $5,
  updated_at = $6`;

const INCREMENT_UPDATE = `UPDATE user_platform_quotas AS q SET ${INCREMENT_SET}
  WHERE q.user_id = $1 AND q.platform = $2 AND q.deleted_at IS NULL`;

const INCREMENT_UPSERT = `INSERT INTO user_platform_quotas AS q (user_id, platform, daily_usage_usd, weekly_usage_usd, monthly_usage_usd,
    daily_window_start, weekly_window_start, monthly_window_start, created_at, updated_at)
  VALUES ($1, $2, $3::numeric, $3::numeric, $3::numeric, $4, $5, $6, $6, $6)
  ON CONFLICT (user_id, platform) WHERE deleted_at IS NULL DO UPDATE SET ${INCREMENT_SET}`;

export class QuotaRepository {
  constructor(
    private readonly pool: pg.Pool,
    private readonly clock: QuotaClock,
  ) {}

  /** The active row, or null. */
  async getByUserPlatform(userId: number, platform: string): Promise<QuotaRow | null> {
    const { rows } = await this.pool.query<RawRow>(
      `SELECT ${QUOTA_COLUMNS} FROM user_platform_quotas WHERE user_id = $1 AND platform = $2 AND deleted_at IS NULL`,
      [userId, platform],
    );
    return rows[0] ? toRow(rows[0]) : null;
  }

  /** All active rows of a user, in registry order (the gateway leaves the order unspecified). */
  async listByUser(userId: number, client: Queryable = this.pool): Promise<QuotaRow[]> {
    const { rows } = await client.query<RawRow>(
      `SELECT ${QUOTA_COLUMNS} FROM user_platform_quotas WHERE user_id = $1 AND deleted_at IS NULL
       ORDER BY array_position($2::text[], platform::text) NULLS LAST, platform`,
      [userId, PLATFORMS],
    );
    return rows.map(toRow);
  }

  /**
   * Sign-up snapshot: one multi-row INSERT; on an existing active row each limit becomes
   * COALESCE(existing, new) and usage/windows are untouched. Pass `client` to run inside the
   * caller's transaction. Empty input is a no-op.
   */
  async bulkInsertInitial(
    records: Array<{ userId: number; platform: string; limits: QuotaLimits }>,
    client: Queryable = this.pool,
  ): Promise<void> {
    if (records.length === 0) return;
    await client.query(
      `INSERT INTO user_platform_quotas (user_id, platform, daily_limit_usd, weekly_limit_usd, monthly_limit_usd, created_at, updated_at)
       SELECT r.user_id, r.platform, r.d, r.w, r.m, $6, $6
       FROM unnest($1::bigint[], $2::text[], $3::numeric[], $4::numeric[], $5::numeric[]) AS r(user_id, platform, d, w, m)
       ON CONFLICT (user_id, platform) WHERE deleted_at IS NULL DO UPDATE SET
         daily_limit_usd = COALESCE(user_platform_quotas.daily_limit_usd, EXCLUDED.daily_limit_usd),
         weekly_limit_usd = COALESCE(user_platform_quotas.weekly_limit_usd, EXCLUDED.weekly_limit_usd),
         monthly_limit_usd = COALESCE(user_platform_quotas.monthly_limit_usd, EXCLUDED.monthly_limit_usd),
         updated_at = EXCLUDED.updated_at`,
      [
        records.map((r) => r.userId),
        records.map((r) => r.platform),
        records.map((r) => num(r.limits.daily, "daily limit")),
        records.map((r) => num(r.limits.weekly, "weekly limit")),
        records.map((r) => num(r.limits.monthly, "monthly limit")),
        new Date(),
      ],
    );
  }

  /**
   * Add `cost` to all three windows, resetting each expired one first (daily/weekly: stored start
   * not exactly the current calendar start; monthly: nil or ≥ 30 d → start := now). Creates the
   * row (NULL limits) when missing.
   *
   * Each statement is atomic under the row lock; the common case is one prepared UPDATE. A
   * missing row falls back to an upsert whose conflict branch applies the same window rules, so a
   * concurrent first insert is handled correctly (the gateway's fallback there skipped them).
   */
  async incrementUsageWithReset(userId: number, platform: string, cost: number, now: number): Promise<void> {
    const values = [userId, platform, num(cost, "cost"), new Date(this.clock.startOfDay(now)), new Date(this.clock.startOfWeek(now)), new Date(now)];
    const updated = await this.pool.query({ name: "qc_upq_increment", text: INCREMENT_UPDATE, values });
    if (updated.rowCount === 0) await this.pool.query({ name: "qc_upq_increment_insert", text: INCREMENT_UPSERT, values });
  }

  /**
   * Set one window's usage to 0 and its start to `newStart` (unconditionally, as the gateway's
   * ResetExpiredWindow). Throws QuotaNotFoundError when there is no active row.
   */
  async resetWindow(userId: number, platform: string, window: Window, newStart: number, client: Queryable = this.pool): Promise<void> {
    const cols = WINDOW_COLUMNS[window];
    if (!cols) throw new Error(`invalid window: ${String(window)}`);
    const r = await client.query(
      `UPDATE user_platform_quotas SET ${cols.usage} = 0, ${cols.start} = $3, updated_at = now()
       WHERE user_id = $1 AND platform = $2 AND deleted_at IS NULL`,
      [userId, platform, new Date(newStart)],
    );
    if (r.rowCount === 0) throw new QuotaNotFoundError();
  }

  /**
   * Whole-replace of a user's limits in one transaction: active rows of platforms not listed are
   * soft-deleted; listed ones get the new limits with usage and windows preserved, or a new row.
   * Pass `client` (inside BEGIN) to join the caller's transaction (e.g. with an audit row).
   */
  async upsertForUser(userId: number, records: Array<{ platform: string; limits: QuotaLimits }>, client?: pg.PoolClient): Promise<void> {
    const run = async (c: Queryable) => {
      const platforms = records.map((r) => r.platform);
      await c.query(
        `UPDATE user_platform_quotas SET deleted_at = now(), updated_at = now()
         WHERE user_id = $1 AND deleted_at IS NULL AND NOT (platform = ANY($2::text[]))`,
        [userId, platforms],
      );
      if (records.length === 0) return;
      await c.query(
        `INSERT INTO user_platform_quotas (user_id, platform, daily_limit_usd, weekly_limit_usd, monthly_limit_usd, created_at, updated_at)
         SELECT $1, r.platform, r.d, r.w, r.m, now(), now()
         FROM unnest($2::text[], $3::numeric[], $4::numeric[], $5::numeric[]) AS r(platform, d, w, m)
         ON CONFLICT (user_id, platform) WHERE deleted_at IS NULL DO UPDATE SET
           daily_limit_usd = EXCLUDED.daily_limit_usd,
           weekly_limit_usd = EXCLUDED.weekly_limit_usd,
           monthly_limit_usd = EXCLUDED.monthly_limit_usd,
           deleted_at = NULL,
           updated_at = now()`,
        [
          userId,
          platforms,
          records.map((r) => num(r.limits.daily, "daily limit")),
          records.map((r) => num(r.limits.weekly, "weekly limit")),
          records.map((r) => num(r.limits.monthly, "monthly limit")),
        ],
      );
    };
    if (client) return run(client);
    const c = await this.pool.connect();
    try {
      await c.query("BEGIN");
      await run(c);
      await c.query("COMMIT");
    } catch (e) {
      await c.query("ROLLBACK").catch(() => {});
      throw e;
    } finally {
      c.release();
    }
  }

  /**
   * The flusher's absolute write: usages and window starts overwritten (limits never written; a
   * new row gets NULL limits), in chunks of 6000 rows that are not one transaction. A foreign-key
   * violation (user deleted) becomes QuotaFkViolationError.
   */
  async batchSnapshotUsage(snaps: UsageSnapshot[], now: number): Promise<void> {
    for (let i = 0; i < snaps.length; i += SNAPSHOT_CHUNK_ROWS) {
      const chunk = snaps.slice(i, i + SNAPSHOT_CHUNK_ROWS);
      try {
        await this.pool.query(
          `INSERT INTO user_platform_quotas (user_id, platform, daily_usage_usd, weekly_usage_usd, monthly_usage_usd,
              daily_window_start, weekly_window_start, monthly_window_start, created_at, updated_at)
           SELECT r.user_id, r.platform, r.du, r.wu, r.mu, r.ds, r.ws, r.ms, $9, $9
           FROM unnest($1::bigint[], $2::text[], $3::numeric[], $4::numeric[], $5::numeric[],
                       $6::timestamptz[], $7::timestamptz[], $8::timestamptz[]) AS r(user_id, platform, du, wu, mu, ds, ws, ms)
           ON CONFLICT (user_id, platform) WHERE deleted_at IS NULL DO UPDATE SET
             daily_usage_usd = EXCLUDED.daily_usage_usd,
             weekly_usage_usd = EXCLUDED.weekly_usage_usd,
             monthly_usage_usd = EXCLUDED.monthly_usage_usd,
             daily_window_start = EXCLUDED.daily_window_start,
             weekly_window_start = EXCLUDED.weekly_window_start,
             monthly_window_start = EXCLUDED.monthly_window_start,
             updated_at = EXCLUDED.updated_at`,
          [
            chunk.map((s) => s.userId),
            chunk.map((s) => s.platform),
            chunk.map((s) => num(s.dailyUsage, "daily usage")),
            chunk.map((s) => num(s.weeklyUsage, "weekly usage")),
            chunk.map((s) => num(s.monthlyUsage, "monthly usage")),
            chunk.map((s) => new Date(s.dailyWindowStart)),
            chunk.map((s) => new Date(s.weeklyWindowStart)),
            chunk.map((s) => new Date(s.monthlyWindowStart)),
            new Date(now),
          ],
        );
      } catch (e) {
        if ((e as { code?: string }).code === "23503") throw new QuotaFkViolationError(e);
        throw e;
      }
    }
  }
}
