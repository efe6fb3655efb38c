import "server-only";

import { appBilling } from "@/lib/quota/runtime";

import { QuotaKeysRefresher } from "./quota-keys";

/**
 * The users list's quota-keys refresher in every console instance (lib/users/quota-keys.ts), next to
 * the repairer: each tick takes the advisory lock (one instance at a time), backfills until the first
 * fill completed, then recomputes the users whose usage changed, the rows whose windows rolled over
 * and the next users of the sweep. QC_QUOTA_KEYS_WORKER=off leaves it to another instance (or a test).
 * QUOTA_KEYS_INTERVAL_MS (default 5000), QUOTA_KEYS_SWEEP_BATCH (users per tick, default 20000).
 */
const globalForKeys = globalThis as unknown as { qcQuotaKeys?: QuotaKeysRefresher };

export function startQuotaKeys(): void {
  if (globalForKeys.qcQuotaKeys || process.env.QC_QUOTA_KEYS_WORKER === "off") return;
  const billing = appBilling();
  const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  const refresher = new QuotaKeysRefresher(
    { pool: billing.pool, clock: billing.clock, logger: console },
    {
      intervalMs: num(process.env.QUOTA_KEYS_INTERVAL_MS),
      sweepBatch: num(process.env.QUOTA_KEYS_SWEEP_BATCH),
    },
  );
  refresher.start();
  globalForKeys.qcQuotaKeys = refresher;
}
