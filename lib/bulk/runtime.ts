import "server-only";

import { appBilling } from "@/lib/quota/runtime";

import { BulkWorker } from "./engine";

/**
 * The bulk worker of this console instance (lib/bulk/engine.ts), next to the repairer: it takes a
 * job whose lease is free — one started here (kicked at once) or one whose instance died (after its
 * lease ran out) — and runs its batches. QC_BULK_WORKER=off leaves jobs to another instance (or a test).
 * BULK_BATCH_SIZE: users per batch (one transaction each; default 500).
 */
const globalForBulk = globalThis as unknown as { qcBulkWorker?: BulkWorker };

export function bulkWorker(): BulkWorker {
  if (!globalForBulk.qcBulkWorker) {
    const size = Number(process.env.BULK_BATCH_SIZE ?? 500);
    globalForBulk.qcBulkWorker = new BulkWorker(
      { billing: appBilling() },
      { batchSize: Number.isSafeInteger(size) && size > 0 ? size : 500 },
    );
  }
  return globalForBulk.qcBulkWorker;
}

export function startBulkWorker(): void {
  if (process.env.QC_BULK_WORKER === "off") return;
  bulkWorker().start();
}

/** After a job was started (or undone) here: run it now rather than at the next poll. */
export function kickBulkWorker(): void {
  if (process.env.QC_BULK_WORKER === "off") return;
  bulkWorker().kick();
}
