import { randomInt } from "node:crypto";
import type pg from "pg";

import { formatGoFloat } from "./encoding";
import { checkout, withTransaction } from "./pg";
import { PLATFORMS } from "./platforms";
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

// ---- literals for the simple-query protocol (the exactly-once increment sends BEGIN and the write in
// one message, which the extended protocol cannot do). Only numbers, instants and a validated
// platform name are ever inlined. ----
const PLATFORM_NAME = /^[A-Za-z0-9_.:-]{1,32}$/;
const sqlNum = (v: number) => {
  if (!Number.isFinite(v) || v < 0) throw new Error(`not a finite amount >= 0: ${v}`);
  return `${formatGoFloat(v)}::numeric`;
};
const sqlInt = (v: number) => {
  if (!Number.isSafeInteger(v)) throw new Error(`not an integer: ${v}`);
  return String(v);
};
const sqlTime = (msSinceEpoch: number) => `'${new Date(msSinceEpoch).toISOString()}'::timestamptz`;
const sqlText = (s: string) => {
  if (!PLATFORM_NAME.test(s)) throw new Error(`invalid platform name ${JSON.stringify(s)}`);
  return `'${s}'`;
};

/**
 * The window rules of one usage op recorded at `at` (the gateway's IncrementUsageWithReset, spec
 * §1.3), extended for ops written late (a retry after an outage, a delayed delivery, two requests
 * straddling midnight): a daily or weekly window that has already moved past the op's own calendar
 * window is left alone, never moved back — the gateway's equality rule would reset today's usage to
 * a cost recorded yesterday. The rolling monthly window keeps the gateway's rule (a window is
 * anchored at its first op, so an op recorded a moment before that anchor still belongs to it). For
 * an op written at once (`at` = now) the rules are exactly the gateway's.
 */
function incrementSet(w: {
  cost: string;
  sod: string;
  sodNext: string;
  sow: string;
  sowNext: string;
  at: string;
}): string {
  return `
  daily_usage_usd = CASE WHEN q.daily_window_start = ${w.sod} THEN q.daily_usage_usd + ${w.cost}
                         WHEN q.daily_window_start >= ${w.sodNext} THEN q.daily_usage_usd
                         ELSE ${w.cost} END,
  daily_window_start = CASE WHEN q.daily_window_start >= ${w.sodNext} THEN q.daily_window_start ELSE ${w.sod} END,
  weekly_usage_usd = CASE WHEN q.weekly_window_start = ${w.sow} THEN q.weekly_usage_usd + ${w.cost}
                          WHEN q.weekly_window_start >= ${w.sowNext} THEN q.weekly_usage_usd
                          ELSE ${w.cost} END,
  weekly_window_start = CASE WHEN q.weekly_window_start >= ${w.sowNext} THEN q.weekly_window_start ELSE ${w.sow} END,
  monthly_usage_usd = CASE WHEN q.monthly_window_start IS NULL OR ${w.at} - q.monthly_window_start >= interval '720 hours' THEN ${w.cost}
                           ELSE q.monthly_usage_usd + ${w.cost} END,
  monthly_window_start = CASE WHEN q.monthly_window_start IS NULL OR ${w.at} - q.monthly_window_start >= interval '720 hours'
                              THEN ${w.at} ELSE q.monthly_window_start END,
  updated_at = now()`;
}

/** Work committed in the same transaction as a usage increment (the outbox row of a lost Redis reply). */
export type OutboxRow = { cacheKey: string; kind: "cancel" | "replay" | "del"; payload: unknown; delayMs?: number };

/** One usage write: `cost` recorded at `at`, with the outbox row to commit together with it. */
export type UsageWrite = { userId: number; platform: string; cost: number; at: number; outbox?: OutboxRow };

/**
 * The outcome of an exactly-once write: a definite yes, a definite no, or "committed?" with the
 * write's commit token (its marker) to ask `commitStatus` about.
 */
export type ExactWrite =
  | { status: "committed"; commit: string }
  | { status: "failed"; error: unknown }
  /** the database refuses it for good (user deleted, platform not allowed): a retry cannot succeed */
  | { status: "rejected"; error: unknown }
  | { status: "uncertain"; commit: string; error: unknown }
  /** the outbox row it had to consume was already gone: another worker wrote this op */
  | { status: "skipped" };

/**
 * The fate of an earlier write attempt: "committed", "not committed" (it never will: write it again),
 * "pending" (the answer could not be had now — the database is unreachable or the attempt is still
 * finishing: ask again later), "unknowable" (its marker is past the retention: an operator decides).
 */
export type CommitStatus = "committed" | "not committed" | "pending" | "unknowable";

/** Markers are kept this long (the repairer prunes older ones); a token older than MARKER_TRUST_MS is "unknowable". */
export const MARKER_RETENTION_DAYS = 35;
const MARKER_TRUST_MS = 30 * 86_400_000;
/** Acknowledged writes' markers are deleted in batches, at most this often. */
const MARKER_RELEASE_DELAY_MS = 1000;

/**
 * A write's marker id: milliseconds since the epoch × 2^22 + 22 random bits (a bigint below 2^63 until
 * the year 2248). Two writers drawing the same id in the same millisecond make the second write fail
 * its INSERT (unique violation) before anything is committed — a retry, never a wrong answer.
 */
export function newMarker(now = Date.now()): string {
  return (BigInt(now) * 4_194_304n + BigInt(randomInt(4_194_304))).toString();
}

/** The instant a marker was made (epoch ms), or null if `token` is no marker token. */
export function markerTime(token: string): number | null {
  const m = /^m:(\d{1,19})$/.exec(token);
  return m ? Number(BigInt(m[1]) / 4_194_304n) : null;
}

export class QuotaRepository {
  /** markers of acknowledged writes no one will ever ask about, deleted in the next batch */
  private acked: string[] = [];
  private releaseTimer: NodeJS.Timeout | null = null;

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
      [userId, PLATFORMS],
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
   * Add `cost` recorded at `at` to all three windows, resetting each expired one first (daily/weekly:
   * stored start not exactly the op's calendar start; monthly: nil or ≥ 30 d → start := at), creating
   * the row (NULL limits) when missing — and commit it EXACTLY ONCE, so a retry after any failure can
   * never count it twice:
   *
   *   1st round trip  BEGIN; INSERT marker; [INSERT outbox row;] UPDATE …   (no COMMIT sent yet)
   *   (row missing)   INSERT … ON CONFLICT DO UPDATE …
   *   2nd round trip  COMMIT
   *
   * A failure before COMMIT was sent is a definite "not written" (the connection is destroyed, so the
   * server rolls the transaction back). A failure of the COMMIT itself is "uncertain" with the commit
   * token: `commitStatus(token)` tells later whether it committed — by the marker, a row with a
   * client-made id committed in the same transaction. (Not by txid_status: a crash that loses a
   * transaction's unflushed WAL hands its txid out again, and txid_status then reports the new
   * transaction's commit for the lost one.) The transaction forces synchronous_commit on, so an
   * acknowledged COMMIT survives a crash even where the server's default is off. BEGIN and the write travel as one
   * simple-protocol message (numbers, instants and a validated platform name are inlined) so the
   * common case costs two round trips, and a transaction never waits on anything but PostgreSQL.
   * A write the database refuses for good (the user was deleted: FK; a platform the CHECK does not
   * allow) is "rejected" — retrying it can never succeed.
   */
  async incrementExactlyOnce(
    input: UsageWrite & {
      /** commit only if this outbox row still exists, deleting it (the op of a replay row is written once) */
      consumeOutboxId?: number;
      /** called with the commit token before COMMIT is sent (persist it where a retry will look); a throw aborts */
      beforeCommit?: (commit: string) => Promise<void>;
    },
  ): Promise<ExactWrite> {
    return this.writeExactlyOnce([input], {
      consumeOutboxId: input.consumeOutboxId,
      beforeCommit: input.beforeCommit,
      single: true,
    });
  }

  /**
   * Several usage writes in ONE transaction, committed exactly once together (one marker for all): the
   * repairer drains parked ops this way after an outage. Rows are written in (user, platform) order,
   * the order the flusher locks them in, so the two never deadlock.
   */
  async incrementManyExactlyOnce(
    items: UsageWrite[],
    opts: { beforeCommit?: (commit: string) => Promise<void> } = {},
  ): Promise<ExactWrite> {
    const sorted = [...items].sort(
      (a, b) => a.userId - b.userId || (a.platform < b.platform ? -1 : a.platform > b.platform ? 1 : 0),
    );
    return this.writeExactlyOnce(sorted, { beforeCommit: opts.beforeCommit, single: false });
  }

  private async writeExactlyOnce(
    items: UsageWrite[],
    opts: { consumeOutboxId?: number; beforeCommit?: (commit: string) => Promise<void>; single: boolean },
  ): Promise<ExactWrite> {
    if (items.length === 0) throw new Error("nothing to write");
    // Built before a connection is taken: a bad input throws here, never half-way through a transaction.
    const statements = items.map((it) => this.writeStatements(it));
    const consume =
      opts.consumeOutboxId === undefined
        ? ""
        : `DELETE FROM cache_invalidation_outbox WHERE id = ${sqlInt(opts.consumeOutboxId)};`;
    let client: pg.PoolClient;
    try {
      client = await checkout(this.pool);
    } catch (error) {
      return { status: "failed", error };
    }
    const marker = newMarker();
    const token = `m:${marker}`;
    // The marker first: a colliding id fails here, before anything else ran.
    const head = `BEGIN; SET LOCAL synchronous_commit TO on; INSERT INTO billing_commit_markers (id) VALUES (${marker}); ${consume}`;
    try {
      if (opts.single) {
        // The common case: a plain UPDATE; the upsert only when the row is missing.
        const [st] = statements;
        const first = (await client.query(`${head} ${st.outbox} ${st.update}`)) as unknown as pg.QueryResult[];
        if (consume && first[3].rowCount === 0) {
          await client.query("ROLLBACK");
          client.release();
          return { status: "skipped" };
        }
        if (first[first.length - 1].rowCount === 0) await client.query(st.upsert);
      } else {
        await client.query(`${head} ${statements.map((st) => `${st.outbox} ${st.upsert};`).join("\n")}`);
      }
      if (opts.beforeCommit) await opts.beforeCommit(token);
    } catch (error) {
      client.release(true); // destroy: the server rolls back what it has of this transaction
      const code = (error as { code?: string }).code;
      if (code === "23503" || code === "23514") return { status: "rejected", error };
      return { status: "failed", error };
    }
    try {
      await client.query("COMMIT");
      client.release();
    } catch (error) {
      client.release(true);
      return { status: "uncertain", commit: token, error };
    }
    // No one will ask about a write whose token was never handed out: its marker can go.
    if (!opts.beforeCommit) this.releaseMarker(marker);
    return { status: "committed", commit: token };
  }

  /** Queue a marker for deletion (batched: one DELETE per MARKER_RELEASE_DELAY_MS at most). */
  private releaseMarker(marker: string): void {
    this.acked.push(marker);
    if (this.releaseTimer) return;
    this.releaseTimer = setTimeout(() => void this.flushReleasedMarkers(), MARKER_RELEASE_DELAY_MS);
    this.releaseTimer.unref();
  }

  /** Delete the queued markers now (a failure keeps them queued; the age prune is the backstop). */
  async flushReleasedMarkers(): Promise<void> {
    if (this.releaseTimer) clearTimeout(this.releaseTimer);
    this.releaseTimer = null;
    const batch = this.acked.splice(0, 10_000);
    if (batch.length === 0) return;
    try {
      await this.pool.query("DELETE FROM billing_commit_markers WHERE id = ANY($1::bigint[])", [batch]);
    } catch {
      if (this.acked.length < 100_000) this.acked.unshift(...batch);
    }
    if (this.acked.length > 0 && !this.releaseTimer) {
      this.releaseTimer = setTimeout(() => void this.flushReleasedMarkers(), MARKER_RELEASE_DELAY_MS);
      this.releaseTimer.unref();
    }
  }

  /** Drop markers past the retention (the repairer calls this now and then). Returns how many. */
  async pruneMarkers(): Promise<number> {
    const r = await this.pool.query(
      `DELETE FROM billing_commit_markers WHERE created_at < now() - interval '${MARKER_RETENTION_DAYS} days'`,
    );
    return r.rowCount ?? 0;
  }

  /** The SQL of one usage write: its outbox row (if any), the UPDATE, and the upsert for a missing row. */
  private writeStatements(input: UsageWrite): { outbox: string; update: string; upsert: string } {
    const { clock } = this;
    const sod = clock.startOfDay(input.at);
    const sow = clock.startOfWeek(input.at);
    const w = {
      cost: sqlNum(input.cost),
      sod: sqlTime(sod),
      sodNext: sqlTime(clock.startOfDay(sod + 36 * 3600_000)),
      sow: sqlTime(sow),
      sowNext: sqlTime(clock.startOfWeek(sow + 180 * 3600_000)),
      at: sqlTime(input.at),
    };
    const user = sqlInt(input.userId);
    const platform = sqlText(input.platform);
    const outbox = input.outbox
      ? `INSERT INTO cache_invalidation_outbox (cache_key, kind, payload, next_attempt_at)
         VALUES (${quoteLiteral(input.outbox.cacheKey)}, ${quoteLiteral(input.outbox.kind)}, ${quoteLiteral(JSON.stringify(input.outbox.payload))}::jsonb,
                 now() + interval '${Math.max(0, Math.round(input.outbox.delayMs ?? 0))} milliseconds');`
      : "";
    return {
      outbox,
      update: `UPDATE user_platform_quotas AS q SET ${incrementSet(w)}
  WHERE q.user_id = ${user} AND q.platform = ${platform} AND q.deleted_at IS NULL`,
      upsert: `INSERT INTO user_platform_quotas AS q (user_id, platform, daily_usage_usd, weekly_usage_usd, monthly_usage_usd,
              daily_window_start, weekly_window_start, monthly_window_start, created_at, updated_at)
           VALUES (${user}, ${platform}, ${w.cost}, ${w.cost}, ${w.cost}, ${w.sod}, ${w.sow}, ${w.at}, now(), now())
           ON CONFLICT (user_id, platform) WHERE deleted_at IS NULL DO UPDATE SET ${incrementSet(w)}`,
    };
  }

  /**
   * incrementExactlyOnce, throwing unless it committed — for callers without a ledger (tools, tests)
   * that want the gateway's IncrementUsageWithReset.
   */
  async incrementUsageWithReset(userId: number, platform: string, cost: number, at: number): Promise<void> {
    const w = await this.incrementExactlyOnce({ userId, platform, cost, at });
    if (w.status !== "committed") throw w.status === "skipped" ? new Error("skipped") : (w.error as Error);
  }

  /**
   * Did the write with commit token `token` commit? Probed by inserting its marker in a transaction
   * that is rolled back: a committed marker makes the insert do nothing ("committed"); a write still
   * in progress makes it wait for that write's end (bounded by the statement timeout: "pending");
   * otherwise the write's transaction is over without its marker — it never committed and never will
   * (its connection is gone, so no COMMIT can follow). No snapshot race: the unique index sees
   * commits, not snapshots.
   */
  async commitStatus(token: string): Promise<CommitStatus> {
    const at = markerTime(token);
    if (at === null) throw new Error(`not a commit token: ${token}`);
    if (Date.now() - at > MARKER_TRUST_MS) return "unknowable";
    let client: pg.PoolClient;
    try {
      client = await checkout(this.pool);
    } catch {
      return "pending";
    }
    try {
      const res = (await client.query(
        `BEGIN; INSERT INTO billing_commit_markers (id) VALUES (${token.slice(2)}) ON CONFLICT (id) DO NOTHING RETURNING id; ROLLBACK`,
      )) as unknown as pg.QueryResult[];
      client.release();
      return res[1].rowCount === 0 ? "committed" : "not committed";
    } catch {
      client.release(true);
      return "pending";
    }
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
      for (let i = 0; i < write.length; i += SNAPSHOT_CHUNK_ROWS) {
        const chunk = write.slice(i, i + SNAPSHOT_CHUNK_ROWS);
        await c.query(
          `UPDATE user_platform_quotas q SET
             daily_usage_usd = s.du, weekly_usage_usd = s.wu, monthly_usage_usd = s.mu,
             daily_window_start = s.ds, weekly_window_start = s.ws, monthly_window_start = s.ms, updated_at = now()
           FROM unnest($1::bigint[], $2::text[], $3::numeric[], $4::numeric[], $5::numeric[],
                       $6::timestamptz[], $7::timestamptz[], $8::timestamptz[]) AS s(user_id, platform, du, wu, mu, ds, ws, ms)
           WHERE q.user_id = s.user_id AND q.platform = s.platform AND q.deleted_at IS NULL`,
          snapshotColumns(chunk),
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
      `UPDATE user_platform_quotas SET daily_usage_usd = $2, weekly_usage_usd = $3, monthly_usage_usd = $4,
         daily_window_start = COALESCE($5, daily_window_start), weekly_window_start = COALESCE($6, weekly_window_start),
         monthly_window_start = COALESCE($7, monthly_window_start), updated_at = now() WHERE id = $1`,
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

/** A string as a standard-conforming SQL literal (no backslash escapes; NUL refused). */
export function quoteLiteral(s: string): string {
  if (s.includes("\u0000")) throw new Error("NUL in SQL literal");
  return `'${s.replace(/'/g, "''")}'`;
}
