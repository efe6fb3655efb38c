import { randomBytes } from "node:crypto";
import type pg from "pg";

import { billingKeys } from "./keys";
import type { BillingMetrics } from "./metrics";
import type { IncrementOutcome, OpRef, QuotaCache } from "./quota-cache";
import { enqueueReplayRow, type QuotaRepository } from "./quota-repo";
import type { ExactWrite, OutboxRow } from "./usage-writes";

/**
 * Usage recording that never loses or double-counts a cost (docs/consistency.md). Every recorded cost
 * is a usage op with a unique id. Its Redis step (quota-increment.lua) is at-most-once per id and
 * leaves a lease on the key when it was a no-op; its PostgreSQL step is committed exactly once
 * (QuotaRepository.incrementExactlyOnce: a failure before COMMIT is a definite "no", an unconfirmed
 * COMMIT is resolved by its commit marker). Whatever cannot finish now is parked — in Redis when
 * PostgreSQL failed (the journal), in PostgreSQL when Redis failed (the outbox), in memory when both
 * did — and the repairer (lib/billing/repairer.ts) finishes it exactly once.
 *
 *   direct mode   Redis step, then the PostgreSQL write (the source of truth). A no-op Redis step
 *                 (key missing or legacy) keeps its lease until the write committed, so no rebuild from
 *                 an older row can land. A Redis step that failed is cancelled-and-invalidated through
 *                 the outbox row committed together with the write.
 *   flusher mode  Redis step only (Redis is the source of truth, the flusher mirrors it). A no-op Redis
 *                 step falls back to a PostgreSQL write (the gateway drops that cost). A Redis step
 *                 that failed is replayed into Redis later (same op id, so at most once).
 */
export type LedgerConfig = {
  flusherEnabled: boolean;
  cacheTtlSeconds: number;
  incrementTimeoutMs: number;
  /** how long a no-op's lease fences rebuilds while its PostgreSQL write is in flight */
  leaseMs: number;
  /** recordUsage resolves after this long at most; unfinished work continues and is parked */
  recordTimeoutMs: number;
};

export type LedgerLogger = { warn(msg: string, meta?: unknown): void; error(msg: string, meta?: unknown): void };

/** A parked op, as stored in the journal / outbox / memory (JSON). */
export type ParkedOp = {
  op: OpRef;
  userId: number;
  platform: string;
  cost: number;
  /** when it was recorded (its windows are computed from this, not from the retry time) */
  at: number;
  mode: "direct" | "flusher";
  /** what its Redis step did, as far as known */
  redis: IncrementOutcome | "error" | "none";
  /** commit token of an unconfirmed COMMIT (QuotaRepository.commitStatus tells its fate) */
  commit?: string;
  /** the outbox row (cancel / replay) that must be committed with the op's PostgreSQL write */
  outbox?: "cancel" | "del";
  /** the op holds a lease on the key (its no-op took one, or it was parked in the journal) */
  leased: boolean;
  /** it was parked at least once (its PostgreSQL write came late) */
  parked?: boolean;
  tries: number;
};

export type RecordResult = {
  /** the op was accepted: it is applied now, or parked and applied exactly once later */
  recorded: boolean;
  cacheApplied: boolean;
  dbWritten: boolean;
  parked: "journal" | "outbox" | "memory" | null;
  opId?: string;
};

const NOT_RECORDED: RecordResult = { recorded: false, cacheApplied: false, dbWritten: false, parked: null };

/** Op ids: a random epoch per process (rotated every 2^20 ops or 12 h) and a counter. */
export class OpIds {
  private epoch = "";
  private index = 0;
  private born = 0;
  next(): OpRef {
    if (this.epoch === "" || this.index >= 1 << 20 || Date.now() - this.born > 12 * 3600_000) {
      this.epoch = randomBytes(6).toString("hex");
      this.index = 0;
      this.born = Date.now();
    }
    const index = this.index++;
    return { epoch: this.epoch, index, id: `${this.epoch}.${index}` };
  }
}

class TimeoutError extends Error {}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TimeoutError(`${what} timed out after ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

export class UsageLedger {
  readonly ids = new OpIds();
  /** ops that could be parked nowhere durable (both stores failing); the repairer retries them */
  readonly memory: ParkedOp[] = [];
  /** ops whose work is still running (recordUsage returned early); awaited by drain() */
  private readonly running = new Set<Promise<unknown>>();
  private readonly malformedKeys = new Set<string>();

  constructor(
    private readonly deps: {
      cache: QuotaCache | null;
      repo: QuotaRepository;
      pool: Pick<pg.Pool, "query">;
      metrics: BillingMetrics;
      logger: LedgerLogger;
      /** called when a key's hash turned out malformed (the repairer fixes it) */
      onMalformed?: (userId: number, platform: string) => void;
      /** direct mode: a parked op's cost committed late (the repairer verifies the key's hash) */
      onSettledLate?: (userId: number, platform: string) => void;
    },
    readonly config: LedgerConfig,
  ) {}

  /**
   * Record `cost` (USD actually charged) for user × platform at `at`. Resolves within
   * recordTimeoutMs; never throws. `recorded: true` means the cost will be in the ledger exactly once.
   */
  async record(userId: number, platform: string, cost: number, at: number): Promise<RecordResult> {
    if (!Number.isFinite(cost) || cost <= 0) return NOT_RECORDED;
    this.deps.metrics.usageOps++;
    const work = this.recordOp(userId, platform, cost, at).catch((e) => {
      // recordOp parks everything it cannot finish; reaching here means a bug, not a fault.
      this.deps.logger.error("ALERT billing: usage op failed unexpectedly", {
        userId,
        platform,
        cost,
        error: String(e),
      });
      return this.park({
        op: this.ids.next(),
        userId,
        platform,
        cost,
        at,
        mode: this.mode,
        redis: "error",
        leased: false,
        tries: 0,
      });
    });
    this.running.add(work);
    void work.finally(() => this.running.delete(work));
    try {
      return await withTimeout(work, this.config.recordTimeoutMs, "recordUsage");
    } catch {
      // Still running (a store is hanging): it finishes or parks itself in the background.
      return { recorded: true, cacheApplied: false, dbWritten: false, parked: "memory" };
    }
  }

  /** Wait until every op started by record() has finished or been parked. */
  async drain(): Promise<void> {
    while (this.running.size) await Promise.allSettled([...this.running]);
  }

  private get mode(): "direct" | "flusher" {
    return this.config.flusherEnabled && this.deps.cache ? "flusher" : "direct";
  }

  private async recordOp(userId: number, platform: string, cost: number, at: number): Promise<RecordResult> {
    const { cache, metrics } = this.deps;
    const op = this.ids.next();
    const mode = this.mode;
    let redis: IncrementOutcome | "error" | "none" = "none";
    if (cache) {
      try {
        redis = await withTimeout(
          cache.increment(userId, platform, cost, op, {
            ttlSeconds: this.config.cacheTtlSeconds,
            markDirty: mode === "flusher",
            leaseMs: this.config.leaseMs,
          }),
          this.config.incrementTimeoutMs,
          "cache increment",
        );
      } catch (e) {
        redis = "error";
        metrics.cacheIncrementErrors++;
        this.deps.logger.error("ALERT billing: quota cache increment failed; its fate is resolved later", {
          userId,
          platform,
          cost,
          error: String(e),
        });
      }
    }
    if (redis === "malformed") this.reportMalformed(userId, platform);
    const parked: ParkedOp = {
      op,
      userId,
      platform,
      cost,
      at,
      mode,
      redis,
      leased: redis === "noop" || redis === "malformed",
      tries: 0,
    };
    const applied = redis === "applied";

    if (mode === "flusher") {
      if (applied) return { recorded: true, cacheApplied: true, dbWritten: false, parked: null, opId: op.id };
      // The Redis step could not run: replay it into Redis later (Redis stays the source of truth).
      if (redis === "error") return this.parkForReplay(parked);
      // A malformed entry is repaired IN PLACE and then flushed: a PostgreSQL write now would be
      // overwritten by that absolute snapshot. Replay the cost into Redis once the hash is repaired,
      // as a fresh op (this one is spent as a no-op in the op map), and give up the no-op's lease.
      if (redis === "malformed" && cache) {
        await withTimeout(
          cache.release(userId, platform, op.id, false),
          this.config.incrementTimeoutMs,
          "lease release",
        ).catch(() => {});
        return this.parkForReplay({ ...parked, op: this.ids.next(), redis: "error", leased: false });
      }
      // A no-op (missing / legacy entry): the gateway loses this cost; we write it to PostgreSQL under
      // the lease the no-op took, so no rebuild can land without it.
      return this.writeAndSettle(parked);
    }
    // Direct mode: PostgreSQL is the source of truth. A lost Redis reply is cancelled-and-invalidated
    // by the outbox row committed in the same transaction as the cost.
    if (redis === "error") parked.outbox = "cancel";
    return this.writeAndSettle(parked);
  }

  /** Write a parked (or fresh) op to PostgreSQL exactly once, then settle its Redis side; park what fails. */
  private async writeAndSettle(p: ParkedOp): Promise<RecordResult> {
    const w = await this.writeOnce(p);
    if (w.status === "committed" || w.status === "skipped") {
      await this.settle(p);
      return { recorded: true, cacheApplied: p.redis === "applied", dbWritten: true, parked: null, opId: p.op.id };
    }
    if (w.status === "rejected") {
      // The row can never exist (the user was deleted; a platform the CHECK refuses): not a fault to retry.
      this.deps.metrics.usageOpsRejected++;
      this.deps.logger.error(
        "ALERT billing: the database refuses this usage op for good (user deleted?); not recorded",
        {
          userId: p.userId,
          platform: p.platform,
          cost: p.cost,
          error: String(w.error),
        },
      );
      await this.settle(p);
      return { recorded: false, cacheApplied: p.redis === "applied", dbWritten: false, parked: null, opId: p.op.id };
    }
    this.deps.metrics.dbIncrementErrors++;
    this.deps.logger.error("ALERT billing: quota database increment failed; parked for an exactly-once retry", {
      userId: p.userId,
      platform: p.platform,
      cost: p.cost,
      status: w.status,
      error: String(w.error),
    });
    if (w.status === "uncertain") p.commit = w.commit;
    return this.park(p);
  }

  /** incrementExactlyOnce for a parked op (its own record time; its outbox row, if any). */
  writeOnce(p: ParkedOp): Promise<ExactWrite> {
    return this.deps.repo.incrementExactlyOnce({
      userId: p.userId,
      platform: p.platform,
      cost: p.cost,
      at: p.at,
      outbox: this.writeOnceOutbox(p),
    });
  }

  /** The outbox row to commit together with a parked op's cost (cancel a lost reply; drop the key). */
  writeOnceOutbox(p: ParkedOp): OutboxRow | undefined {
    const cacheKey = billingKeys.userPlatformQuota(p.userId, p.platform);
    if (p.outbox === "cancel")
      return { cacheKey, kind: "cancel", payload: { op: p.op, userId: p.userId, platform: p.platform }, delayMs: 0 };
    if (p.outbox === "del") return { cacheKey, kind: "del", payload: null, delayMs: 0 };
    return undefined;
  }

  /**
   * After the op's PostgreSQL write committed: give up its lease (a no-op's, or the one taken when it
   * was parked) and move the fence generation. In direct mode an expired lease also drops the hash,
   * so a rebuild that slipped past it cannot keep the cost out of Redis. A failure here is harmless:
   * the lease simply runs out (rebuilds are bounded far below it) — except in direct mode, where the
   * drop is queued through the outbox.
   */
  async settle(p: ParkedOp): Promise<void> {
    this.deps.metrics.usageOpsSettled++;
    const { cache } = this.deps;
    if (!cache || !p.leased) return;
    try {
      await cache.release(p.userId, p.platform, p.op.id, p.mode === "direct");
      // Direct mode, written late: a rebuild may have read the row before this write whatever the
      // lease did (the op was applied to a hash that was later dropped, before it was parked). Have
      // the key verified against PostgreSQL — dropped only if PostgreSQL now has more — rather than
      // dropping it outright: under a database backlog every parked op would otherwise empty the
      // cache and send every check to the database.
      if (p.mode === "direct" && p.parked) this.deps.onSettledLate?.(p.userId, p.platform);
    } catch (e) {
      this.deps.logger.warn("billing: lease release failed (it will expire)", { op: p.op.id, error: String(e) });
    }
  }

  /**
   * Park an op whose PostgreSQL write did not commit (or is unconfirmed): in the Redis journal with a
   * lease on the key, else in memory. Returns the record result.
   */
  async park(p: ParkedOp): Promise<RecordResult> {
    const { cache, metrics } = this.deps;
    metrics.usageOpsParked++;
    p.parked = true;
    if (cache) {
      try {
        await this.journal(p);
        return {
          recorded: true,
          cacheApplied: p.redis === "applied",
          dbWritten: false,
          parked: "journal",
          opId: p.op.id,
        };
      } catch (e) {
        this.deps.logger.warn("billing: journal unavailable, op held in memory", { op: p.op.id, error: String(e) });
      }
    }
    this.memory.push(p);
    metrics.usageOpsInMemory = this.memory.length;
    this.deps.logger.error("ALERT billing: usage op held in process memory until a store answers", {
      op: p.op.id,
      userId: p.userId,
      platform: p.platform,
      cost: p.cost,
    });
    return { recorded: true, cacheApplied: p.redis === "applied", dbWritten: false, parked: "memory", opId: p.op.id };
  }

  /** Put (or put back) a parked op into the Redis journal, taking or extending its lease on the key. */
  async journal(p: ParkedOp, delayMs = retryDelayMs(p.tries)): Promise<void> {
    const { cache } = this.deps;
    if (!cache) throw new Error("no Redis");
    await withTimeout(
      cache.journalAdd(
        { id: p.op.id, userId: p.userId, platform: p.platform },
        JSON.stringify({ ...p, leased: true }),
        delayMs,
        {
          ms: this.journalLeaseMs(p),
        },
      ),
      this.config.incrementTimeoutMs,
      "journal add",
    );
    p.leased = true;
  }

  /** Flusher mode, Redis step failed: an outbox row in PostgreSQL replays it into Redis later. */
  private async parkForReplay(p: ParkedOp): Promise<RecordResult> {
    this.deps.metrics.usageOpsParked++;
    try {
      await withTimeout(
        enqueueReplayRow(this.deps.pool, billingKeys.userPlatformQuota(p.userId, p.platform), p),
        this.config.recordTimeoutMs,
        "outbox",
      );
      return { recorded: true, cacheApplied: false, dbWritten: false, parked: "outbox", opId: p.op.id };
    } catch (e) {
      this.deps.logger.warn("billing: outbox unavailable, op held in memory", { op: p.op.id, error: String(e) });
      this.memory.push(p);
      this.deps.metrics.usageOpsInMemory = this.memory.length;
      return { recorded: true, cacheApplied: false, dbWritten: false, parked: "memory", opId: p.op.id };
    }
  }

  /** A lease long enough to cover the next retry of a parked op (renewed at every attempt). */
  journalLeaseMs(p: ParkedOp): number {
    return Math.max(this.config.leaseMs, retryDelayMs(p.tries) + 30_000);
  }

  reportMalformed(userId: number, platform: string): void {
    this.deps.metrics.malformedEntries++;
    const key = `${userId}:${platform}`;
    if (this.malformedKeys.has(key)) return;
    this.malformedKeys.add(key);
    setTimeout(() => this.malformedKeys.delete(key), 10_000).unref();
    this.deps.onMalformed?.(userId, platform);
  }

  /**
   * The repairer is about to repair this key: let the next sighting of garbage be reported again at
   * once. (The 10 s de-duplication above only spares the repairer a report per request while a repair
   * is pending; without this, a key garbled again right after its repair was not repaired before the
   * window ran out — and in flusher mode the flusher skips a malformed hash, so its usage stayed out of
   * PostgreSQL until some later request happened to report it.)
   */
  malformedRepairing(userId: number, platform: string): void {
    this.malformedKeys.delete(`${userId}:${platform}`);
  }
}

/** Backoff of parked ops: 0.5 s, 1 s, 2 s … at most 30 s. */
export function retryDelayMs(tries: number): number {
  return Math.min(30_000, 500 * 2 ** Math.min(tries, 6));
}
