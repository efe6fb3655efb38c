import { randomInt } from "node:crypto";
import type pg from "pg";

import { formatGoFloat } from "./encoding";
import { hourBucket, rollupAfterUpdateSql, rollupInsertSql } from "./history";
import { checkout } from "./pg";
import type { QuotaClock } from "./windows";

/**
 * The exactly-once usage write protocol of user_platform_quotas (docs/consistency.md): each write
 * inserts a commit marker in its own transaction, BEGIN and the write travel in ONE simple-protocol
 * message, and an unconfirmed COMMIT is resolved later by probing its marker (`commitStatus`). Split
 * from quota-repo.ts (reads and admin writes), which delegates to it; these bytes are the protocol —
 * change them only with the consistency model.
 */

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

export class ExactlyOnceWriter {
  /** markers of acknowledged writes no one will ever ask about, deleted in the next batch */
  private acked: string[] = [];
  private releaseTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly pool: pg.Pool,
    private readonly clock: QuotaClock,
  ) {}

  /**
   * Add `cost` recorded at `at` to all three windows, resetting each expired one first (daily/weekly:
   * stored start not exactly the op's calendar start; monthly: nil or ≥ 30 d → start := at), creating
   * the row (NULL limits) when missing — and commit it EXACTLY ONCE, so a retry after any failure can
   * never count it twice:
   *
   *   1st round trip  BEGIN; INSERT marker; [INSERT outbox row;] WITH (UPDATE … RETURNING) INSERT rollup bucket
   *                   (no COMMIT sent yet)
   *   (row missing)   INSERT … ON CONFLICT DO UPDATE …; INSERT rollup bucket
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
        // The usage history's bucket rides in the same statement as the UPDATE, fed by its RETURNING:
        // no extra round trip, committed with the marker, and the rollup row is locked only after
        // the quota row (the order of every writer, the flusher's too: no deadlock). No row updated
        // (rowCount 0): neither is written, and the upsert and the bucket follow in the second message.
        const [st] = statements;
        const first = (await client.query(
          `${head} ${st.outbox} ${rollupAfterUpdateSql(st.update, st.rollup)}`,
        )) as unknown as pg.QueryResult[];
        if (consume && first[3].rowCount === 0) {
          await client.query("ROLLBACK");
          client.release();
          return { status: "skipped" };
        }
        if (first[first.length - 1].rowCount === 0) await client.query(`${st.upsert}; ${rollupInsertSql([st.rollup])}`);
      } else {
        await client.query(
          `${head} ${statements.map((st) => `${st.outbox} ${st.upsert};`).join("\n")} ${rollupInsertSql(statements.map((st) => st.rollup))}`,
        );
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
  private writeStatements(input: UsageWrite): {
    outbox: string;
    update: string;
    upsert: string;
    rollup: { user: string; platform: string; bucket: string; cost: string };
  } {
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
      rollup: { user, platform, bucket: sqlTime(hourBucket(clock, input.at)), cost: w.cost },
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
}

/** A string as a standard-conforming SQL literal (no backslash escapes; NUL refused). */
export function quoteLiteral(s: string): string {
  if (s.includes("\u0000")) throw new Error("NUL in SQL literal");
  return `'${s.replace(/'/g, "''")}'`;
}
