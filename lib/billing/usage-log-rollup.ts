import type pg from "pg";

import { MARK_KEY_CHANGES_FROM_RO } from "./history";
import { IntervalLoop } from "./interval-loop";
import type { BillingLogger } from "./service";
import type { QuotaClock } from "./windows";

/**
 * Attached mode's usage history (issue 15, docs/consistency.md §7): the gateway records every
 * request in its own `usage_logs`; this worker reads the rows above an id watermark in bounded
 * batches into `quota_console.usage_rollup_hourly`, attributing each row to a platform the way the
 * gateway's quota charges it (spec §3 "Which platform a request is charged to", §5.3):
 *
 *   - only balance-mode requests with ActualCost > 0 (`billing_type` 1 = subscription: not charged
 *     to the platform quota, not counted here either);
 *   - the platform of the request's group; a `composite` group falls back to the account's platform
 *     (the gateway's fallback when the handler passed no platform); no group → not charged, skipped.
 *     The request context's ForcePlatform / composite routing target is not in usage_logs: such a
 *     request is attributed to its group's platform (or the account's for composite groups).
 *
 * Exactly once, with several console instances: one transaction per batch locks the watermark row
 * (`FOR UPDATE SKIP LOCKED`: another instance holding it means "not my turn"), adds the batch's
 * buckets and moves the watermark in the same commit. A crash rolls all three back.
 *
 * Ids come from a sequence, so a row can commit after a higher id was already read (its transaction
 * took its id first). A batch therefore stops before the first gap in the ids unless the row after
 * the gap is older than `gapWaitMs` (the gap is then taken for a rolled-back insert).
 */
export type UsageLogRollupConfig = {
  /** rows per batch (one transaction) */
  batchSize: number;
  /** a gap in the ids is waited for this long (by the next row's created_at) before it is skipped */
  gapWaitMs: number;
  /** pause between ticks */
  intervalMs: number;
  /** batches per tick at most (a backlog is worked off over several ticks) */
  maxBatchesPerTick: number;
};

export const USAGE_LOGS_WATERMARK = "usage_logs";

export function normalizeUsageLogRollupConfig(c: Partial<UsageLogRollupConfig> = {}): UsageLogRollupConfig {
  return {
    batchSize: Math.min(Math.max(c.batchSize ?? 5000, 1), 50_000),
    gapWaitMs: Math.max(c.gapWaitMs ?? 60_000, 0),
    intervalMs: Math.max(c.intervalMs ?? 5000, 100),
    maxBatchesPerTick: Math.max(c.maxBatchesPerTick ?? 20, 1),
  };
}

export type RollupBatch =
  /** another instance holds the watermark now */
  { status: "busy" } | { status: "done"; rows: number; from: string; to: string; waiting: boolean };

export class UsageLogRollup {
  readonly config: UsageLogRollupConfig;

  private readonly loop: IntervalLoop;

  constructor(
    private readonly deps: { pool: pg.Pool; clock: QuotaClock; logger?: BillingLogger },
    config: Partial<UsageLogRollupConfig> = {},
  ) {
    this.config = normalizeUsageLogRollupConfig(config);
    this.loop = new IntervalLoop(
      () => this.catchUp(),
      this.config.intervalMs,
      (e) => this.deps.logger?.warn("usage history: usage_logs rollup failed", { error: String(e) }),
    );
  }

  /** One batch, in one transaction. */
  async runBatch(now = Date.now()): Promise<RollupBatch> {
    const c = await this.deps.pool.connect();
    try {
      await c.query("BEGIN");
      await c.query("INSERT INTO usage_rollup_watermarks (name) VALUES ($1) ON CONFLICT (name) DO NOTHING", [
        USAGE_LOGS_WATERMARK,
      ]);
      const { rows: wm } = await c.query<{ last_id: string }>(
        "SELECT last_id::text FROM usage_rollup_watermarks WHERE name = $1 FOR UPDATE SKIP LOCKED",
        [USAGE_LOGS_WATERMARK],
      );
      if (wm.length === 0) {
        await c.query("ROLLBACK");
        return { status: "busy" };
      }
      const last = BigInt(wm[0].last_id);
      const { rows: ids } = await c.query<{ id: string; settled: boolean }>(
        // ORDER BY the column, not the text alias (text order would put 1000 before 142)
        `SELECT l.id::text AS id, l.created_at < $3::timestamptz AS settled FROM usage_logs l
         WHERE l.id > $1 ORDER BY l.id LIMIT $2`,
        [last.toString(), this.config.batchSize, new Date(now - this.config.gapWaitMs)],
      );
      let cut = last;
      let waiting = false;
      let taken = 0;
      for (const r of ids) {
        const id = BigInt(r.id);
        if (id !== cut + 1n && !r.settled) {
          waiting = true; // a lower id may still commit: wait for it
          break;
        }
        cut = id;
        taken++;
      }
      if (cut === last) {
        await c.query("COMMIT");
        return { status: "done", rows: 0, from: last.toString(), to: last.toString(), waiting };
      }
      // ro: the buckets written, whose keys are marked changed for the users list's quota keys
      // (lib/users/quota-keys.ts) in this batch's transaction.
      await c.query(
        `WITH ro AS (INSERT INTO usage_rollup_hourly AS r (user_id, platform, bucket_start, cost, requests)
         SELECT l.user_id, p.platform,
                d.sod + floor(extract(epoch FROM l.created_at - d.sod) / 3600) * interval '1 hour',
                sum(l.actual_cost), count(*)
         FROM usage_logs l
         LEFT JOIN groups g ON g.id = l.group_id
         LEFT JOIN accounts a ON a.id = l.account_id
         CROSS JOIN LATERAL (SELECT CASE WHEN g.platform = 'composite' THEN a.platform ELSE g.platform END AS platform) p
         CROSS JOIN LATERAL (SELECT date_trunc('day', l.created_at AT TIME ZONE $3) AT TIME ZONE $3 AS sod) d
         WHERE l.id > $1 AND l.id <= $2 AND l.actual_cost > 0 AND l.billing_type <> 1
           AND p.platform IS NOT NULL AND p.platform <> '' AND length(p.platform) <= 32
         GROUP BY 1, 2, 3 ORDER BY 1, 3, 2
         ON CONFLICT (user_id, bucket_start, platform) DO UPDATE
           SET cost = r.cost + EXCLUDED.cost, requests = r.requests + EXCLUDED.requests
         RETURNING r.user_id, r.platform)
         ${MARK_KEY_CHANGES_FROM_RO}`,
        [last.toString(), cut.toString(), this.deps.clock.timeZone],
      );
      await c.query("UPDATE usage_rollup_watermarks SET last_id = $2, updated_at = now() WHERE name = $1", [
        USAGE_LOGS_WATERMARK,
        cut.toString(),
      ]);
      await c.query("COMMIT");
      return { status: "done", rows: taken, from: last.toString(), to: cut.toString(), waiting };
    } catch (e) {
      await c.query("ROLLBACK").catch(() => {});
      throw e;
    } finally {
      c.release();
    }
  }

  /** Batches until caught up (or `maxBatches`): ids read, batches committed. */
  async catchUp(maxBatches = this.config.maxBatchesPerTick, now?: number): Promise<{ ids: number; batches: number }> {
    let ids = 0;
    let batches = 0;
    for (let i = 0; i < maxBatches; i++) {
      const b = await this.runBatch(now ?? Date.now());
      if (b.status === "busy") break;
      batches++;
      ids += b.rows;
      if (b.rows < this.config.batchSize) break;
    }
    return { ids, batches };
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }
}
