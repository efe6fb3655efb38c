import "server-only";

import {
  downsampleHistory,
  historyRetentionFromEnv,
  refreshTodayOverview,
  TODAY_SNAPSHOT_EVERY_MS,
} from "@/lib/billing/history";
import { UsageLogRollup } from "@/lib/billing/usage-log-rollup";
import { env } from "@/lib/config/env";

import { appBilling } from "./runtime";

/**
 * The usage history's background work in every console instance (issue 15, docs/consistency.md
 * §7), next to the repairer: attached, the usage_logs reader (its watermark row lock makes the
 * instances take turns); both modes, the downsampler once an hour and today's overview snapshot
 * once a minute (each behind an advisory lock: one instance at a time).
 * QC_HISTORY_WORKERS=off leaves both to `npm run usage-history` (or to a test).
 */
const globalForHistory = globalThis as unknown as {
  qcHistory?: { rollup: UsageLogRollup | null; timer: NodeJS.Timeout; today: NodeJS.Timeout };
};

const DOWNSAMPLE_EVERY_MS = 3_600_000;

export function startUsageHistory(): void {
  if (globalForHistory.qcHistory || process.env.QC_HISTORY_WORKERS === "off") return;
  const billing = appBilling();
  const retention = historyRetentionFromEnv();
  const logger = console;
  const rollup =
    env().GATEWAY_DATABASE === "attached"
      ? new UsageLogRollup(
          { pool: billing.pool, clock: billing.clock, logger },
          {
            batchSize: Number(process.env.USAGE_ROLLUP_BATCH_SIZE ?? 5000),
            intervalMs: Number(process.env.USAGE_ROLLUP_INTERVAL_MS ?? 5000),
          },
        )
      : null;
  rollup?.start();
  const downsample = () =>
    void downsampleHistory(billing.pool, billing.clock, retention).catch((e) =>
      logger.warn("usage history: downsampling failed", { error: String(e) }),
    );
  const first = setTimeout(downsample, 60_000);
  first.unref();
  const timer = setInterval(downsample, DOWNSAMPLE_EVERY_MS);
  timer.unref();
  const today = setInterval(
    () =>
      void refreshTodayOverview(billing.pool, billing.clock).catch((e) =>
        logger.warn("usage history: today's overview snapshot failed", { error: String(e) }),
      ),
    TODAY_SNAPSHOT_EVERY_MS,
  );
  today.unref();
  globalForHistory.qcHistory = { rollup, timer, today };
}
