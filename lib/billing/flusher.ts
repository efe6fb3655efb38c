import { parseDirtyMember, billingKeys } from "@/lib/redis/keys";
import type { QuotaCache } from "./quota-cache";
import { QuotaFkViolationError, type QuotaRepository, type UsageSnapshot } from "./quota-repo";
import type { BillingLogger } from "./service";

/**
 * The usage flusher (spec §5.4): when `flusherEnabled`, usage is recorded in Redis only and the
 * keys are marked in `billing:upq:dirty`; this worker pops them in batches and writes absolute
 * snapshots to PostgreSQL. It interoperates with the Go gateway's flusher — both pop from the same
 * set, and a member is handled by whoever pops it.
 */
export type FlusherConfig = {
  intervalMs: number;
  batchSize: number;
  maxBatchesPerTick: number;
  batchTimeoutMs: number;
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
  };
}

export type FlusherStats = {
  flushSuccess: number;
  flushError: number;
  flushBatchSize: number;
  flushLatencyMsMax: number;
  dirtyReadd: number;
  dirtyLost: number;
  flushFkViolation: number;
  rowsWritten: number;
};

type BatchOutcome = "continue" | "stop";

export class QuotaUsageFlusher {
  readonly config: FlusherConfig;
  readonly stats: FlusherStats = {
    flushSuccess: 0,
    flushError: 0,
    flushBatchSize: 0,
    flushLatencyMsMax: 0,
    dirtyReadd: 0,
    dirtyLost: 0,
    flushFkViolation: 0,
    rowsWritten: 0,
  };
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly deps: { cache: QuotaCache; repo: QuotaRepository; logger?: BillingLogger; now?: () => number },
    config: Partial<FlusherConfig> = {},
  ) {
    this.config = normalizeFlusherConfig(config);
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

  /** Stop the schedule, wait for a running tick, then flush one last time. No pops after this. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
    await this.flushTick();
  }

  /** One tick: up to maxBatchesPerTick batches while batches come back full. */
  async flush(): Promise<void> {
    if (this.stopped) return;
    await this.flushTick();
  }

  private async flushTick(): Promise<void> {
    for (let i = 0; i < this.config.maxBatchesPerTick; i++) {
      if ((await this.batch()) === "stop") return;
    }
    this.log.warn("billing flusher: dirty set still non-empty after a full tick (backlog)");
  }

  private async reAdd(members: string[]): Promise<void> {
    try {
      await this.deps.cache.reAddDirty(members);
      this.stats.dirtyReadd += members.length;
    } catch (e) {
      this.stats.dirtyLost += members.length;
      this.log.error("ALERT billing flusher: could not re-add dirty keys, their usage will not reach the database", {
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
      members = await this.deps.cache.popDirty(n);
    } catch (e) {
      this.log.warn("billing flusher: SPOP failed", { error: String(e) });
      return "stop";
    }
    if (members.length === 0) return "stop";

    const parsed = members.map((m) => ({ member: m, id: parseDirtyMember(m) }));
    const valid = parsed.filter((p): p is { member: string; id: { userId: number; platform: string } } => p.id !== null);
    if (valid.length < parsed.length) this.log.warn("billing flusher: skipped invalid dirty members", { count: parsed.length - valid.length });

    let entries;
    try {
      entries = await this.deps.cache.readMany(valid.map((v) => billingKeys.userPlatformQuota(v.id.userId, v.id.platform)));
    } catch (e) {
      this.log.warn("billing flusher: HGETALL pipeline failed, re-adding", { error: String(e) });
      await this.reAdd(members);
      return "stop";
    }

    const snaps: UsageSnapshot[] = [];
    const failedReads: string[] = [];
    entries.forEach((e, i) => {
      // A command that failed inside the pipeline: put it back rather than lose it (the gateway
      // treats it as a miss and drops it).
      if (e === undefined) return void failedReads.push(valid[i].member);
      if (e === null || e.dailyWindowStart === null || e.weeklyWindowStart === null || e.monthlyWindowStart === null) return;
      snaps.push({
        userId: valid[i].id.userId,
        platform: valid[i].id.platform,
        dailyUsage: e.dailyUsage,
        weeklyUsage: e.weeklyUsage,
        monthlyUsage: e.monthlyUsage,
        dailyWindowStart: e.dailyWindowStart,
        weeklyWindowStart: e.weeklyWindowStart,
        monthlyWindowStart: e.monthlyWindowStart,
      });
    });
    if (failedReads.length) await this.reAdd(failedReads);
    if (snaps.length === 0) return members.length < n ? "stop" : "continue";

    try {
      await Promise.race([
        this.deps.repo.batchSnapshotUsage(snaps, (this.deps.now ?? Date.now)()),
        new Promise((_, reject) => setTimeout(() => reject(new Error("batch timeout")), this.config.batchTimeoutMs).unref()),
      ]);
    } catch (e) {
      this.stats.flushError++;
      if (e instanceof QuotaFkViolationError) {
        // A user was deleted: the whole batch is dropped, as upstream (re-adding would loop forever).
        this.stats.flushFkViolation++;
        this.log.warn("billing flusher: FK violation, batch dropped", { rows: snaps.length });
      } else {
        this.log.error("billing flusher: snapshot write failed, re-adding", { error: String(e) });
        await this.reAdd(members);
      }
      return "stop";
    }
    this.stats.flushSuccess++;
    this.stats.rowsWritten += snaps.length;
    this.stats.flushBatchSize = snaps.length;
    this.stats.flushLatencyMsMax = Math.max(this.stats.flushLatencyMsMax, Math.round(performance.now() - started));
    return members.length < n ? "stop" : "continue";
  }
}
