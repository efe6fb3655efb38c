import { randomBytes } from "node:crypto";

import { billingKeys, parseDirtyMember } from "./keys";
import type { BillingMetrics } from "./metrics";
import type { QuotaCache } from "./quota-cache";
import type { QuotaRepository, UsageSnapshot } from "./quota-repo";
import type { BillingLogger } from "./service";

/**
 * The usage flusher (spec §5.4): when `flusherEnabled`, usage is recorded in Redis only and the keys
 * are marked in `billing:upq:dirty`; this worker writes absolute snapshots to PostgreSQL. It pops from
 * the same set as the Go gateway's flusher (a member is handled by whoever pops it) and is better in
 * three ways (docs/consistency.md):
 *
 *   crash-safe   a popped member moves atomically into this flusher's processing set and leaves it
 *                only after its snapshot committed; members of a flusher whose heartbeat expired (it
 *                was killed) go back to the dirty set (BillingRepairer) — snapshots are absolute, so
 *                flushing a member twice is harmless;
 *   locked       the batch's rows are locked FOR UPDATE before Redis is read, so a snapshot can never
 *                overwrite a PostgreSQL increment or an admin change made after its read;
 *   no re-creation  a key whose row was removed is not written back as a new row.
 */
export type FlusherConfig = {
  intervalMs: number;
  batchSize: number;
  maxBatchesPerTick: number;
  batchTimeoutMs: number;
  /** a flusher that has not renewed its heartbeat for this long is presumed dead */
  heartbeatMs: number;
};

export const MAX_FLUSH_BATCH = 6000;

/** The gateway's normalisation: interval ≤ 0 → 2 s; batch ≤ 0 → 1000; batch > 6000 → 6000. */
export function normalizeFlusherConfig(c: Partial<FlusherConfig> = {}): FlusherConfig {
  const interval = c.intervalMs ?? 2000;
  const batch = c.batchSize ?? 1000;
  return {
    intervalMs: interval > 0 ? interval : 2000,
    batchSize: batch <= 0 ? 1000 : Math.min(batch, MAX_FLUSH_BATCH),
    maxBatchesPerTick: c.maxBatchesPerTick ?? 16,
    batchTimeoutMs: c.batchTimeoutMs ?? 3000,
    heartbeatMs: c.heartbeatMs ?? Math.max(15_000, 5 * (interval > 0 ? interval : 2000)),
  };
}

export type FlusherStats = {
  flushSuccess: number;
  flushError: number;
  flushBatchSize: number;
  flushLatencyMsMax: number;
  dirtyReadd: number;
  dirtyLost: number;
  /** keys whose row no longer exists (removed by an admin, user deleted): not re-created */
  withoutRow: number;
  rowsWritten: number;
  lastFlushAt: number | null;
};

type BatchOutcome = "continue" | "stop";

export class QuotaUsageFlusher {
  readonly config: FlusherConfig;
  readonly id: string;
  readonly stats: FlusherStats = {
    flushSuccess: 0,
    flushError: 0,
    flushBatchSize: 0,
    flushLatencyMsMax: 0,
    dirtyReadd: 0,
    dirtyLost: 0,
    withoutRow: 0,
    rowsWritten: 0,
    lastFlushAt: null,
  };
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly deps: {
      cache: QuotaCache;
      repo: QuotaRepository;
      logger?: BillingLogger;
      metrics?: BillingMetrics;
      id?: string;
    },
    config: Partial<FlusherConfig> = {},
  ) {
    this.config = normalizeFlusherConfig(config);
    this.id = deps.id ?? `${process.pid}-${randomBytes(4).toString("hex")}`;
  }

  private get log(): BillingLogger {
    return this.deps.logger ?? console;
  }

  /** Flush every interval until stop(); ticks never overlap. */
  start(): void {
    if (this.timer || this.stopped) return;
    const tick = () => {
      this.running = this.flush().finally(() => {
        this.running = null;
        if (!this.stopped) this.timer = setTimeout(tick, this.config.intervalMs);
      });
    };
    this.timer = setTimeout(tick, this.config.intervalMs);
  }

  /** Stop the schedule, wait for a running tick, then flush one last time and deregister. No pops after this. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
    await this.flushTick();
    await this.deps.cache.retireFlusher(this.id).catch(() => {});
  }

  /** One tick: up to maxBatchesPerTick batches while batches come back full. */
  async flush(): Promise<void> {
    if (this.stopped) return;
    await this.flushTick();
  }

  private async flushTick(): Promise<void> {
    await this.deps.cache.requeueOwn(this.id).catch(() => 0);
    for (let i = 0; i < this.config.maxBatchesPerTick; i++) {
      if ((await this.batch()) === "stop") return;
    }
    this.log.warn("billing flusher: dirty set still non-empty after a full tick (backlog)");
  }

  private async requeue(members: string[]): Promise<void> {
    try {
      await this.deps.cache.requeueDirty(this.id, members);
      this.stats.dirtyReadd += members.length;
    } catch (e) {
      // Not lost: they stay in this flusher's processing set and are recovered when it is gone, or
      // re-flushed by this flusher's next recovery (the repairer treats a stale heartbeat as dead).
      this.log.warn("billing flusher: could not put keys back yet (they stay in the processing set)", {
        count: members.length,
        error: String(e),
      });
    }
  }

  private async batch(): Promise<BatchOutcome> {
    const n = this.config.batchSize;
    const started = performance.now();
    let members: string[];
    try {
      members = await this.deps.cache.claimDirty(this.id, n, this.config.heartbeatMs);
    } catch (e) {
      this.log.warn("billing flusher: claim failed", { error: String(e) });
      return "stop";
    }
    if (members.length === 0) return "stop";

    const parsed = members.map((m) => ({ member: m, id: parseDirtyMember(m) }));
    const valid = parsed.filter(
      (p): p is { member: string; id: { userId: number; platform: string } } => p.id !== null,
    );
    const invalid = parsed.filter((p) => p.id === null).map((p) => p.member);
    if (invalid.length) {
      this.log.warn("billing flusher: dropped invalid dirty members", { count: invalid.length });
      await this.deps.cache.flushedDone(this.id, invalid).catch(() => {});
    }

    const failedReads: string[] = [];
    let result: { written: number; withoutRow: UsageSnapshot[] };
    try {
      result = await Promise.race([
        this.deps.repo.snapshotLocked(
          valid.map((v) => v.id),
          async () => {
            // Read AFTER the rows are locked: nothing can change them between this read and the write.
            const entries = await this.deps.cache.readMany(
              valid.map((v) => billingKeys.userPlatformQuota(v.id.userId, v.id.platform)),
            );
            const snaps: UsageSnapshot[] = [];
            failedReads.length = 0;
            entries.forEach((e, i) => {
              const m = valid[i];
              // A command that failed inside the pipeline: put it back rather than lose it.
              if (e === undefined) return void failedReads.push(m.member);
              // A miss or a nil window is skipped, as upstream; so is a malformed entry (its repair marks it dirty again).
              if (
                e === null ||
                e.dailyWindowStart === null ||
                e.weeklyWindowStart === null ||
                e.monthlyWindowStart === null ||
                e.malformed
              ) {
                return;
              }
              snaps.push({
                userId: m.id.userId,
                platform: m.id.platform,
                dailyUsage: e.dailyUsage,
                weeklyUsage: e.weeklyUsage,
                monthlyUsage: e.monthlyUsage,
                dailyWindowStart: e.dailyWindowStart,
                weeklyWindowStart: e.weeklyWindowStart,
                monthlyWindowStart: e.monthlyWindowStart,
              });
            });
            return snaps;
          },
        ),
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error("batch timeout")), this.config.batchTimeoutMs).unref(),
        ),
      ]);
    } catch (e) {
      this.stats.flushError++;
      if (this.deps.metrics) this.deps.metrics.flushErrors++;
      this.log.error("billing flusher: snapshot write failed, keys put back", { error: String(e) });
      await this.requeue(valid.map((v) => v.member));
      return "stop";
    }
    const committed = valid.map((v) => v.member).filter((m) => !failedReads.includes(m));
    await this.deps.cache.flushedDone(this.id, committed).catch(() => {});
    if (failedReads.length) await this.requeue(failedReads);
    this.stats.withoutRow += result.withoutRow.length;
    if (result.withoutRow.length)
      this.log.warn("billing flusher: keys without an active row were not written", {
        count: result.withoutRow.length,
      });
    this.stats.flushSuccess++;
    this.stats.rowsWritten += result.written;
    this.stats.flushBatchSize = result.written;
    this.stats.lastFlushAt = Date.now();
    const latency = Math.round(performance.now() - started);
    this.stats.flushLatencyMsMax = Math.max(this.stats.flushLatencyMsMax, latency);
    if (this.deps.metrics) {
      this.deps.metrics.flushes++;
      this.deps.metrics.flushRows += result.written;
      this.deps.metrics.flushLagMsMax = Math.max(this.deps.metrics.flushLagMsMax, latency);
    }
    return members.length < n ? "stop" : "continue";
  }
}
