import type pg from "pg";

import { formatGoFloat } from "./encoding";
import { FLUSH_ROLLUP_SQL, flushBuckets, MARK_KEY_CHANGES_FROM_RO } from "./history";
import { withTransaction } from "./pg";
import { DEFAULT_PLATFORMS } from "./platforms";
import { ExactlyOnceWriter, type CommitStatus, type ExactWrite, type UsageWrite } from "./usage-writes";
import type { Limits, QuotaWindow } from "./vocabulary";
import type { QuotaClock } from "./windows";

/**
 * PostgreSQL repository of `user_platform_quotas` (spec §1.3), in plain SQL on a node-postgres pool
 * (the app shares its pool with Prisma). Every read-modify-write is one SQL statement or one
 * transaction, so concurrent writers from this process, other instances and the Go gateway never
 * lose an update. No named prepared statements: a session may be shared (PgBouncer in transaction
 * mode, the embedded PGlite socket), and a name prepared on one client collides on the next.
 */
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

/** Snapshots as the eight parallel arrays `$1..$8` of the unnest(...) AS s(user_id, platform, du, wu, mu, ds, ws, ms) writes. */
function snapshotColumns(chunk: readonly UsageSnapshot[]) {
  return [
    chunk.map((s) => s.userId),
    chunk.map((s) => s.platform),
    chunk.map((s) => num(s.dailyUsage, "daily usage")),
    chunk.map((s) => num(s.weeklyUsage, "weekly usage")),
    chunk.map((s) => num(s.monthlyUsage, "monthly usage")),
    chunk.map((s) => new Date(s.dailyWindowStart)),
    chunk.map((s) => new Date(s.weeklyWindowStart)),
    chunk.map((s) => new Date(s.monthlyWindowStart)),
  ];
}

const WINDOW_COLUMNS: Record<QuotaWindow, { usage: string; start: string }> = {
  daily: { usage: "daily_usage_usd", start: "daily_window_start" },
  weekly: { usage: "weekly_usage_usd", start: "weekly_window_start" },
  monthly: { usage: "monthly_usage_usd", start: "monthly_window_start" },
};

type Queryable = Pick<pg.Pool, "query">;

/** The platform registry, in its order; may be resolved lazily (the app's is read from the live CHECK). */
export type PlatformsProvider = () => readonly string[] | Promise<readonly string[]>;

export class QuotaRepository {
  /** The exactly-once usage writes (usage-writes.ts), on the same pool and clock. */
  private readonly writes: ExactlyOnceWriter;

  constructor(
    private readonly pool: pg.Pool,
    private readonly clock: QuotaClock,
    private readonly platforms: PlatformsProvider = () => DEFAULT_PLATFORMS,
  ) {
    this.writes = new ExactlyOnceWriter(pool, clock);
  }

  // ---- the exactly-once increment protocol, in usage-writes.ts ----

  incrementExactlyOnce(input: Parameters<ExactlyOnceWriter["incrementExactlyOnce"]>[0]): Promise<ExactWrite> {
    return this.writes.incrementExactlyOnce(input);
  }
  incrementManyExactlyOnce(
    items: UsageWrite[],
    opts?: { beforeCommit?: (commit: string) => Promise<void> },
  ): Promise<ExactWrite> {
    return this.writes.incrementManyExactlyOnce(items, opts);
  }
  incrementUsageWithReset(userId: number, platform: string, cost: number, at: number): Promise<void> {
    return this.writes.incrementUsageWithReset(userId, platform, cost, at);
  }
  commitStatus(token: string): Promise<CommitStatus> {
    return this.writes.commitStatus(token);
  }
  flushReleasedMarkers(): Promise<void> {
    return this.writes.flushReleasedMarkers();
  }
  pruneMarkers(): Promise<number> {
    return this.writes.pruneMarkers();
  }

  // ---- reads and admin writes ----

  /** The active row, or null. */
  async getByUserPlatform(userId: number, platform: string): Promise<QuotaRow | null> {
    const { rows } = await this.pool.query<RawRow>(
      `SELECT ${QUOTA_COLUMNS} FROM user_platform_quotas WHERE user_id = $1 AND platform = $2 AND deleted_at IS NULL`,
      [userId, platform],
    );
    return rows[0] ? toRow(rows[0]) : null;
  }

  /**
   * Costs of this key waiting in the outbox to be replayed into Redis (flusher mode, Redis step
   * failed), oldest first. Uses cache_invalidation_outbox_key_idx.
   */
  async pendingReplayCosts(cacheKey: string): Promise<Array<{ at: number; cost: number }>> {
    const { rows } = await this.pool.query<{ at: number | null; cost: number | null }>(
      `SELECT (payload->>'at')::float8 AS at, (payload->>'cost')::float8 AS cost
       FROM cache_invalidation_outbox WHERE cache_key = $1 AND kind = 'replay' ORDER BY id`,
      [cacheKey],
    );
    return rows.flatMap((r) => (r.at !== null && r.cost !== null ? [{ at: r.at, cost: r.cost }] : []));
  }

  /** All active rows of a user, in registry order (the gateway leaves the order unspecified). */
  async listByUser(userId: number, client: Queryable = this.pool): Promise<QuotaRow[]> {
    const { rows } = await client.query<RawRow>(
      `SELECT ${QUOTA_COLUMNS} FROM user_platform_quotas WHERE user_id = $1 AND deleted_at IS NULL
       ORDER BY array_position($2::text[], platform::text) NULLS LAST, platform`,
      [userId, [...(await this.platforms())]],
    );
    return rows.map(toRow);
  }

  /** Active rows for many (user, platform) pairs, keyed `${userId}:${platform}`. */
  async getMany(
    pairs: Array<{ userId: number; platform: string }>,
    client: Queryable = this.pool,
  ): Promise<Map<string, QuotaRow>> {
    if (pairs.length === 0) return new Map();
    const { rows } = await client.query<RawRow>(
      `SELECT ${QUOTA_COLUMNS} FROM user_platform_quotas q
       WHERE (q.user_id, q.platform) IN (SELECT * FROM unnest($1::bigint[], $2::text[])) AND q.deleted_at IS NULL`,
      [pairs.map((p) => p.userId), pairs.map((p) => p.platform)],
    );
    return new Map(rows.map((r) => [`${r.user_id}:${r.platform}`, toRow(r)]));
  }

  /**
   * Sign-up snapshot: one multi-row INSERT; on an existing active row each limit becomes
   * COALESCE(existing, new) and usage/windows are untouched. Pass `client` to run inside the
   * caller's transaction. Empty input is a no-op.
   */
  async bulkInsertInitial(
    records: Array<{ userId: number; platform: string; limits: Limits }>,
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
   * Set one window's usage to 0 and its start to `newStart` (unconditionally, as the gateway's
   * ResetExpiredWindow). Throws QuotaNotFoundError when there is no active row.
   */
  async resetWindow(
    userId: number,
    platform: string,
    window: QuotaWindow,
    newStart: number,
    client: Queryable = this.pool,
  ): Promise<void> {
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
   * Whole-replace of a user's limits: active rows of platforms not listed are soft-deleted; listed
   * ones get the new limits with usage and windows preserved, or a new row. Runs on `client` (the
   * caller's transaction, e.g. with an audit row) or in a transaction of its own.
   */
  async upsertForUser(
    userId: number,
    records: Array<{ platform: string; limits: Limits }>,
    client?: pg.PoolClient,
  ): Promise<void> {
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
    await withTransaction(this.pool, run);
  }

  /**
   * The flusher's absolute write, made safe against every other writer: the active rows of the batch
   * are locked FOR UPDATE first (in (user, platform) order, as batched usage writes lock them), THEN `readSnapshots` reads Redis, THEN the usages and window starts
   * are overwritten, in one transaction. A direct PostgreSQL increment of the same row (a usage op whose
   * key was missing) therefore lands either before the lock — and the snapshot read afterwards already
   * contains it, or the key is absent and skipped — or after the commit, on top of the snapshot; an
   * admin change holds the same locks. Limits are never written; a key without an active row is not
   * re-created (its row was removed by an admin or its user deleted) and is reported back.
   */
  async snapshotLocked(
    keys: Array<{ userId: number; platform: string }>,
    readSnapshots: () => Promise<UsageSnapshot[]>,
  ): Promise<{ written: number; withoutRow: UsageSnapshot[] }> {
    return withTransaction(this.pool, async (c) => {
      const { rows } = await c.query<{ user_id: string; platform: string }>(
        `SELECT user_id, platform FROM user_platform_quotas
         WHERE (user_id, platform) IN (SELECT * FROM unnest($1::bigint[], $2::text[])) AND deleted_at IS NULL
         ORDER BY user_id, platform FOR UPDATE`,
        [keys.map((k) => k.userId), keys.map((k) => k.platform)],
      );
      const locked = new Set(rows.map((r) => `${r.user_id}:${r.platform}`));
      const snaps = await readSnapshots();
      const write = snaps.filter((s) => locked.has(`${s.userId}:${s.platform}`));
      const withoutRow = snaps.filter((s) => !locked.has(`${s.userId}:${s.platform}`));
      const now = Date.now();
      for (let i = 0; i < write.length; i += SNAPSHOT_CHUNK_ROWS) {
        const chunk = write.slice(i, i + SNAPSHOT_CHUNK_ROWS);
        // Usage history: the increase this snapshot writes over the locked rows, before they change
        // (same transaction: a snapshot flushed again adds nothing; lib/billing/history.ts).
        const buckets = chunk.map((s) => flushBuckets(this.clock, s.dailyWindowStart, now));
        await c.query(FLUSH_ROLLUP_SQL, [
          ...snapshotColumns(chunk),
          buckets.map((b) => b[0]),
          buckets.map((b) => b[1]),
        ]);
        await c.query(
          `UPDATE user_platform_quotas q SET
             daily_usage_usd = s.du, weekly_usage_usd = s.wu, monthly_usage_usd = s.mu,
             daily_window_start = s.ds, weekly_window_start = s.ws, monthly_window_start = s.ms, updated_at = now()
           FROM unnest($1::bigint[], $2::text[], $3::numeric[], $4::numeric[], $5::numeric[],
                       $6::timestamptz[], $7::timestamptz[], $8::timestamptz[]) AS s(user_id, platform, du, wu, mu, ds, ws, ms)
           WHERE q.user_id = s.user_id AND q.platform = s.platform AND q.deleted_at IS NULL`,
          snapshotColumns(chunk),
        );
        // The users list's quota keys: these keys' usage and windows changed (lib/users/quota-keys.ts;
        // markers after the quota and rollup rows, in key order, as the direct writes lock them).
        await c.query(
          `INSERT INTO user_quota_key_changes (user_id, platform)
           SELECT DISTINCT s.u, s.p FROM unnest($1::bigint[], $2::text[]) AS s(u, p) ORDER BY 1, 2
           ON CONFLICT (user_id, platform) DO UPDATE SET marked_at = EXCLUDED.marked_at`,
          [chunk.map((k) => k.userId), chunk.map((k) => k.platform)],
        );
      }
      return { written: write.length, withoutRow };
    });
  }

  /**
   * The gateway's BatchSnapshotUsage (spec §1.3), unchanged: absolute upsert in chunks of 6000 rows
   * that are not one transaction, new rows with NULL limits, FK violation → QuotaFkViolationError.
   * Kept for interoperability tests; lib/billing's flusher writes through snapshotLocked.
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
          [...snapshotColumns(chunk), new Date(now)],
        );
      } catch (e) {
        if ((e as { code?: string }).code === "23503") throw new QuotaFkViolationError(e);
        throw e;
      }
    }
  }

  /** Keep the usage of an entry that an admin change replaced on the row it belonged to (by id; the row may be soft-deleted). */
  async writeUsageById(
    rowId: number,
    usage: [number, number, number],
    starts: [number | null, number | null, number | null],
    client: Queryable = this.pool,
  ): Promise<void> {
    await client.query(
      // ro: the row written, marked changed for the users list's quota keys (lib/users/quota-keys.ts)
      `WITH ro AS (UPDATE user_platform_quotas SET daily_usage_usd = $2, weekly_usage_usd = $3, monthly_usage_usd = $4,
         daily_window_start = COALESCE($5, daily_window_start), weekly_window_start = COALESCE($6, weekly_window_start),
         monthly_window_start = COALESCE($7, monthly_window_start), updated_at = now() WHERE id = $1
         RETURNING user_id, platform)
       ${MARK_KEY_CHANGES_FROM_RO}`,
      [
        rowId,
        num(usage[0], "daily usage"),
        num(usage[1], "weekly usage"),
        num(usage[2], "monthly usage"),
        starts[0] === null ? null : new Date(starts[0]),
        starts[1] === null ? null : new Date(starts[1]),
        starts[2] === null ? null : new Date(starts[2]),
      ],
    );
  }
}

/** Park a usage op for replay into Redis (flusher mode, its Redis step failed): an outbox row due now. */
export async function enqueueReplayRow(
  pool: Pick<pg.Pool, "query">,
  cacheKey: string,
  payload: unknown,
): Promise<void> {
  await pool.query(
    `INSERT INTO cache_invalidation_outbox (cache_key, kind, payload, next_attempt_at) VALUES ($1, 'replay', $2::jsonb, now())`,
    [cacheKey, JSON.stringify(payload)],
  );
}
