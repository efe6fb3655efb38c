// npm run flusher — the usage flusher as a long-running worker (spec §5.4). Run it when gateways
// record with the flusher enabled (usage in Redis + the dirty set `billing:upq:dirty`): it writes
// absolute usage snapshots to PostgreSQL every interval and, on SIGINT/SIGTERM, stops the schedule,
// flushes one last time and exits.
//
// Environment: DATABASE_URL, REDIS_URL (or a running `npm run demo`), QUOTA_FLUSH_INTERVAL_MS (2000),
// QUOTA_FLUSH_BATCH_SIZE (1000, at most 6000), FLUSHER_STATS_SECONDS (60; 0 = quiet).
import { createBillingRuntime } from "@/lib/billing/runtime";

import { serviceEnv } from "./lib/service-env";

const env = serviceEnv();
if (!env.redisUrl) {
  console.error("flusher: REDIS_URL is required (the dirty set lives in Redis)");
  process.exit(2);
}
const log = (level: "warn" | "error") => (msg: string, meta?: unknown) =>
  console[level](`${new Date().toISOString()} ${level.toUpperCase()} ${msg}${meta ? ` ${JSON.stringify(meta)}` : ""}`);
const rt = createBillingRuntime({
  databaseUrl: env.databaseUrl,
  redisUrl: env.redisUrl,
  timeZone: env.timeZone,
  poolMax: 2,
  logger: { warn: log("warn"), error: log("error") },
});
const flusher = rt.flusher({
  intervalMs: Number(process.env.QUOTA_FLUSH_INTERVAL_MS ?? 2000),
  batchSize: Number(process.env.QUOTA_FLUSH_BATCH_SIZE ?? 1000),
});
flusher.start();
console.log(
  `${new Date().toISOString()} flusher started (${env.source}): every ${flusher.config.intervalMs} ms, batches of ${flusher.config.batchSize}, at most ${flusher.config.maxBatchesPerTick} per tick`,
);

const statsEvery = Number(process.env.FLUSHER_STATS_SECONDS ?? 60);
const statsTimer =
  statsEvery > 0
    ? setInterval(
        () => console.log(`${new Date().toISOString()} stats ${JSON.stringify(flusher.stats)}`),
        statsEvery * 1000,
      )
    : null;

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  console.log(`${new Date().toISOString()} ${signal}: final flush…`);
  if (statsTimer) clearInterval(statsTimer);
  await flusher.stop();
  console.log(`${new Date().toISOString()} stopped ${JSON.stringify(flusher.stats)}`);
  await rt.close();
  process.exit(0);
}
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));
