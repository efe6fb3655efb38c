// A bulk worker in a process of its own, for the crash test (tests/integration/bulk.test.ts): claims
// the job, runs its batches with a pause between them (the window in which the test kills it) and
// prints one line per committed batch. Env: BULK_BATCH_SIZE, BULK_LEASE_MS, BULK_PAUSE_MS,
// QUOTA_FLUSHER_ENABLED; the test database and Redis of the test run.
import { BulkWorker } from "@/lib/bulk/engine";

import { makeBilling } from "./billing-runtime";

const billing = makeBilling({ config: { flusherEnabled: process.env.QUOTA_FLUSHER_ENABLED === "true" } });
const worker = new BulkWorker(
  { billing },
  {
    batchSize: Number(process.env.BULK_BATCH_SIZE ?? 500),
    leaseMs: Number(process.env.BULK_LEASE_MS ?? 30_000),
    pauseMs: Number(process.env.BULK_PAUSE_MS ?? 0),
    onBatch: (jobId, r) => void process.stdout.write(`batch ${jobId} ${r.users}\n`),
  },
);
const batches = await worker.runOnce();
process.stdout.write(`finished ${batches}\n`);
await billing.close();
