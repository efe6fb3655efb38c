import { randomInt } from "node:crypto";
import type pg from "pg";

import { PG_TIMEOUTS } from "./connections";
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
/** An op's amount and instants as SQL (literals, or the columns of a batch's VALUES). */
type OpSql = { cost: string; sod: string; sodNext: string; sow: string; sowNext: string; at: string };

function incrementSet(w: OpSql): string {
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
 * Group commit of plain usage writes (no outbox row to consume, no commit-token hook — the ledger's
 * hot path): at most `slots` write transactions of one process are in flight; writes that arrive
 * while all are busy wait and go together in the next free one, up to `maxBatch` per transaction.
 * A slot that frees (or a write that finds one free) starts its transaction one event-loop turn later
 * (setImmediate), so the callers whose writes just committed — and any others arriving in the same
 * turn — join it rather than each taking a slot with a batch of one; it takes the whole queue (up to
 * `maxBatch`), not a share with the other free slot: a transaction's cost is mostly per statement,
 * not per op (bench:billing, c=16, same run: one batch of 16 instead of two of 8 — 1.4× the ops/s,
 * 0.57× the database CPU per op). A lone write waits that one turn, no more. The pool's other
 * connections stay free for checks and loads.
 */
export type CombineOptions = { slots: number; maxBatch: number; maxWaitMs: number };
export const DEFAULT_COMBINE: CombineOptions = {
  slots: 2,
  maxBatch: 100,
  maxWaitMs: PG_TIMEOUTS.connectionTimeoutMillis,
};

type Queued = { st: WriteStatements; done: (w: ExactWrite) => void; since: number };

type WriteStatements = {
  input: UsageWrite;
  outbox: string;
  update: string;
  upsert: string;
  /** the op's literals and windows, for the set-based statements of a batch (batchWriteSql) */
  lit: OpSql & { user: string; platform: string };
  sod: number;
  sow: number;
  key: string;
  rollup: { user: string; platform: string; bucket: string; cost: string };
};

/** An error the database raised about one op's data (class 22 data exception, 23 integrity): split the batch. */
function opSpecific(w: ExactWrite): boolean {
  if (w.status !== "failed" && w.status !== "rejected") return false;
  const code = (w.error as { code?: unknown } | null)?.code;
  return typeof code === "string" && (code.startsWith("22") || code.startsWith("23"));
}

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

  /** plain writes waiting for a free write slot (group commit) */
  private queue: Queued[] = [];
  private sweepTimer: NodeJS.Timeout | null = null;
  private writing = 0;
  private pumpScheduled = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly clock: QuotaClock,
    private readonly combine: CombineOptions = DEFAULT_COMBINE,
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
    // Built before anything is queued: a bad input throws for its caller only, never for a batch.
    const st = this.writeStatements(input);
    if (input.consumeOutboxId !== undefined || input.beforeCommit)
      return this.writeExactlyOnce([st], {
        consumeOutboxId: input.consumeOutboxId,
        beforeCommit: input.beforeCommit,
        single: true,
      });
    return new Promise((done) => {
      this.queue.push({ st, done, since: Date.now() });
      this.schedulePump();
      this.armSweep();
    });
  }

  /**
   * A write waits for a slot at most as long as it would wait for a pool connection: then it is
   * "failed" without being sent (a definite no — the ledger parks it), so a database that hangs both
   * slots cannot hold costs in this process's memory for longer than that.
   */
  private armSweep(): void {
    if (this.sweepTimer || this.queue.length === 0) return;
    const wait = Math.max(0, this.queue[0].since + this.combine.maxWaitMs - Date.now());
    this.sweepTimer = setTimeout(() => {
      this.sweepTimer = null;
      const now = Date.now();
      let expired = 0;
      while (expired < this.queue.length && now - this.queue[expired].since >= this.combine.maxWaitMs) expired++;
      const error = new Error(`no write slot free within ${this.combine.maxWaitMs} ms`);
      for (const q of this.queue.splice(0, expired)) q.done({ status: "failed", error });
      this.armSweep();
    }, wait);
    this.sweepTimer.unref();
  }

  /** pump() in the next event-loop turn, once however often asked (see CombineOptions), when a slot is free. */
  private schedulePump(): void {
    if (this.pumpScheduled || this.writing >= this.combine.slots) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /** Start a combined write in every free slot while writes are queued. */
  private pump(): void {
    while (this.writing < this.combine.slots && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.combine.maxBatch);
      this.writing++;
      void this.writeCombined(batch).finally(() => {
        this.writing--;
        this.schedulePump();
      });
    }
  }

  /**
   * One transaction for a batch of queued writes: each gets the batch's outcome (committed together,
   * or not at all, or "uncertain" with the one commit token). An error about one op's data (a deleted
   * user, an overflowing amount) would refuse its neighbours too: then each is written on its own.
   */
  private async writeCombined(batch: Queued[]): Promise<void> {
    try {
      if (batch.length === 1) {
        batch[0].done(await this.writeExactlyOnce([batch[0].st], { single: true }));
        return;
      }
      const w = await this.writeExactlyOnce(sortedForLocking(batch.map((b) => b.st)), { single: false });
      if (!opSpecific(w)) {
        for (const b of batch) b.done(w);
        return;
      }
      for (const b of batch) b.done(await this.writeExactlyOnce([b.st], { single: true }));
    } catch (error) {
      for (const b of batch) b.done({ status: "failed", error });
    }
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
    if (items.length === 0) throw new Error("nothing to write");
    const statements = sortedForLocking(items.map((it) => this.writeStatements(it)));
    return this.writeExactlyOnce(statements, { beforeCommit: opts.beforeCommit, single: false });
  }

  /** The statements are built (and their input validated) before a connection is taken. */
  private async writeExactlyOnce(
    statements: WriteStatements[],
    opts: { consumeOutboxId?: number; beforeCommit?: (commit: string) => Promise<void>; single: boolean },
  ): Promise<ExactWrite> {
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
        // Every quota row first (in (user, platform) order), then every bucket, as the flusher does:
        // two batches, or a batch and a flush, lock in the same order and never deadlock. Every row
        // a batch touches is found by its key: no sequential scan (on a small or freshly bloated
        // table the planner would read all of it for a few rows, per batch — bench:billing, 1000 rows).
        await client.query(`${head} SET LOCAL enable_seqscan TO off; ${batchWriteSql(statements)}`);
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
  private writeStatements(input: UsageWrite): WriteStatements {
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
    const update = `UPDATE user_platform_quotas AS q SET ${incrementSet(w)}
  WHERE q.user_id = ${user} AND q.platform = ${platform} AND q.deleted_at IS NULL`;
    const insert = INSERT_QUOTA_ROW;
    const row = `${user}, ${platform}, ${w.cost}, ${w.cost}, ${w.cost}, ${w.sod}, ${w.sow}, ${w.at}, now(), now()`;
    const onConflict = `ON CONFLICT (user_id, platform) WHERE deleted_at IS NULL DO UPDATE SET ${incrementSet(w)}`;
    return {
      input,
      outbox,
      rollup: { user, platform, bucket: sqlTime(hourBucket(clock, input.at)), cost: w.cost },
      update,
      upsert: `${insert} VALUES (${row}) ${onConflict}`,
      lit: { user, platform, ...w },
      sod,
      sow,
      key: `${input.userId}:${input.platform}`,
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

const INSERT_QUOTA_ROW = `INSERT INTO user_platform_quotas AS q (user_id, platform, daily_usage_usd, weekly_usage_usd, monthly_usage_usd,
              daily_window_start, weekly_window_start, monthly_window_start, created_at, updated_at)`;

/**
 * A batch of usage writes (sorted for locking) as a few set-based statements, so the server parses and
 * plans per batch, not per op:
 *   outbox rows; lock every existing quota row of the batch in (user, platform) order (FOR UPDATE, in
 *   the first layer's statement);
 *   a key's ops merged into one group per quota day and week (the ops of one key applied one after
 *   the other, in the order of their instants — concurrent ops have no other order — give exactly
 *   this: daily and weekly add the group's total or reset to it; the rolling monthly window adds it,
 *   resets to it at the group's first instant, or — expiring inside the group — restarts at the first
 *   op past 30 days with the sum of the ops from there; each cost counted rounded to 10 decimals, as
 *   the column stores each op); a key's 2nd group (another day) goes in a 2nd layer, because one
 *   UPDATE cannot change a row twice;
 *   per layer UPDATE … FROM the groups, then INSERT the rows it did not find (a sequence value is
 *   drawn only for a missing row; a row a concurrent writer inserted meanwhile fails the batch with a
 *   unique violation, and the group commit then writes each op on its own, with the upsert);
 *   then every op's bucket of the usage history in one INSERT (rollup rows locked after all quota
 *   rows, as the flusher does: no deadlock between writers).
 */
function batchWriteSql(statements: WriteStatements[]): string {
  type Group = { first: WriteStatements; ops: WriteStatements[] };
  const layers: Group[][] = [];
  const depth = new Map<string, number>();
  let open: Group | null = null;
  for (const st of statements) {
    const g: Group | null = open;
    if (
      g &&
      g.first.key === st.key &&
      g.first.sod === st.sod &&
      g.first.sow === st.sow &&
      st.input.at - g.first.input.at < MONTHLY_MS
    ) {
      g.ops.push(st);
      continue;
    }
    const n = depth.get(st.key) ?? 0;
    depth.set(st.key, n + 1);
    open = { first: st, ops: [st] };
    (layers[n] ??= []).push(open);
  }
  // A layer of single ops (the common case: distinct keys) needs no merge arithmetic: the ops' own
  // incrementSet, with a cheaper plan.
  const row = (g: Group, merged: boolean) => {
    const { user, platform, cost, sod, sodNext, sow, sowNext, at } = g.first.lit;
    if (!merged) return `(${user}::bigint, ${platform}::text, ${cost}, ${sod}, ${sodNext}, ${sow}, ${sowNext}, ${at})`;
    const costs = g.ops.map((o) => `round(${o.lit.cost}, 10)`);
    const last = g.ops[g.ops.length - 1].lit.at;
    return `(${user}::bigint, ${platform}::text, (${costs.join(" + ")}), ${sod}, ${sodNext}, ${sow}, ${sowNext}, ${at}, ${last},
      ARRAY[${g.ops.map((o) => o.lit.at).join(", ")}], ARRAY[${g.ops.map((o) => o.lit.cost).join(", ")}])`;
  };
  const v = (col: string) => `v.${col}`;
  const set = (merged: boolean) =>
    merged
      ? groupIncrementSet(v)
      : incrementSet({
          cost: v("c"),
          sod: v("sod"),
          sodNext: v("sodn"),
          sow: v("sow"),
          sowNext: v("sown"),
          at: v("t0"),
        });
  // Each layer locks its rows first, in (user, platform) order — lk: the sorted keys, each key's row
  // locked (FOR UPDATE) by an index probe in a nested loop over them, in their order (a LATERAL
  // subquery with a row lock is never flattened into a join) — and updates only those, by id (no
  // join of every op against every key): a row another writer inserted after lk's snapshot is not
  // updated out of order (a deadlock) but makes the INSERT fail with a unique violation — then each
  // op goes on its own. Later layers find only rows this transaction already holds.
  const layerSql = (layer: Group[]) => {
    const merged = layer.some((g) => g.ops.length > 1);
    const cols = merged ? "v(u, p, c, sod, sodn, sow, sown, t0, t1, ts, cs)" : "v(u, p, c, sod, sodn, sow, sown, t0)";
    return `WITH ${cols} AS (VALUES ${layer.map((g) => row(g, merged)).join(",\n    ")}),
  lk AS (SELECT r.id AS qid, k.* FROM (SELECT * FROM v ORDER BY v.u, v.p) k CROSS JOIN LATERAL
          (SELECT q.id FROM user_platform_quotas q WHERE q.user_id = k.u AND q.platform = k.p AND q.deleted_at IS NULL FOR UPDATE) r),
  upd AS (UPDATE user_platform_quotas AS q SET ${set(merged)}
          FROM lk v WHERE q.id = v.qid AND q.deleted_at IS NULL RETURNING q.user_id, q.platform)
  ${INSERT_QUOTA_ROW}
  SELECT v.u, v.p, v.c, v.c, v.c, v.sod, v.sow, v.t0, now(), now() FROM v
  WHERE NOT EXISTS (SELECT 1 FROM upd WHERE upd.user_id = v.u AND upd.platform = v.p) ORDER BY v.u, v.p;`;
  };
  return `${statements.map((st) => st.outbox).join("\n")}
  ${layers.map(layerSql).join("\n")}
  ${rollupInsertSql(statements.map((st) => st.rollup))}`;
}

const MONTHLY_MS = 720 * 3600_000;

/**
 * incrementSet for a group of one key's ops in one quota day and week, instants t0 ≤ … ≤ t1 (ts, cs:
 * each op's instant and cost), total c — the same result as the ops' incrementSet one after the other.
 */
function groupIncrementSet(v: (col: string) => string): string {
  const expired = `q.monthly_window_start IS NULL OR ${v("t0")} - q.monthly_window_start >= interval '720 hours'`;
  const within = `${v("t1")} - q.monthly_window_start < interval '720 hours'`;
  const after = `FROM unnest(${v("ts")}, ${v("cs")}) AS x(t, c) WHERE x.t - q.monthly_window_start >= interval '720 hours'`;
  return `
  daily_usage_usd = CASE WHEN q.daily_window_start = ${v("sod")} THEN q.daily_usage_usd + ${v("c")}
                         WHEN q.daily_window_start >= ${v("sodn")} THEN q.daily_usage_usd
                         ELSE ${v("c")} END,
  daily_window_start = CASE WHEN q.daily_window_start >= ${v("sodn")} THEN q.daily_window_start ELSE ${v("sod")} END,
  weekly_usage_usd = CASE WHEN q.weekly_window_start = ${v("sow")} THEN q.weekly_usage_usd + ${v("c")}
                          WHEN q.weekly_window_start >= ${v("sown")} THEN q.weekly_usage_usd
                          ELSE ${v("c")} END,
  weekly_window_start = CASE WHEN q.weekly_window_start >= ${v("sown")} THEN q.weekly_window_start ELSE ${v("sow")} END,
  monthly_usage_usd = CASE WHEN ${expired} THEN ${v("c")}
                           WHEN ${within} THEN q.monthly_usage_usd + ${v("c")}
                           ELSE (SELECT sum(round(x.c, 10)) ${after}) END,
  monthly_window_start = CASE WHEN ${expired} THEN ${v("t0")}
                              WHEN ${within} THEN q.monthly_window_start
                              ELSE (SELECT min(x.t) ${after}) END,
  updated_at = now()`;
}

/** (user, platform) order — the order every writer locks rows in — and a key's ops by instant (stable). */
function sortedForLocking(statements: WriteStatements[]): WriteStatements[] {
  return [...statements].sort(
    (a, b) =>
      a.input.userId - b.input.userId ||
      (a.input.platform < b.input.platform ? -1 : a.input.platform > b.input.platform ? 1 : 0) ||
      a.input.at - b.input.at,
  );
}

/** A string as a standard-conforming SQL literal (no backslash escapes; NUL refused). */
export function quoteLiteral(s: string): string {
  if (s.includes("\u0000")) throw new Error("NUL in SQL literal");
  return `'${s.replace(/'/g, "''")}'`;
}
