// npm run usage-history — the usage history's background work as a CLI (issue 15, docs/consistency.md §7).
// The console runs the same work in its own process (lib/quota/history-runtime.ts); this is for a
// worker outside it, a backfill, or a one-off run. Safe next to running consoles: the usage_logs
// reader locks its watermark row, the downsampler takes an advisory lock.
//
//   npm run usage-history -- rollup        attached: read new usage_logs rows into the rollup, until caught up
//   npm run usage-history -- rollup --watch   … and keep going every USAGE_ROLLUP_INTERVAL_MS (5000)
//   npm run usage-history -- downsample    sum finished days into daily rows, apply the retention
//   npm run usage-history -- today         recompute today's all-users overview snapshot (the console does it every minute)
//
// Environment: DATABASE_URL (or a running `npm run demo`), QUOTA_TIMEZONE, USAGE_ROLLUP_BATCH_SIZE (5000),
// USAGE_HISTORY_HOURLY_DAYS (90), USAGE_HISTORY_DAILY_DAYS (forever).
import { parseArgs } from "node:util";

import { downsampleHistory, historyRetentionFromEnv, refreshTodayOverview } from "@/lib/billing/history";
import { createBillingRuntime } from "@/lib/billing/runtime";
import { UsageLogRollup } from "@/lib/billing/usage-log-rollup";

import { serviceEnv } from "./lib/service-env";

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { watch: { type: "boolean", default: false } },
});
const command = positionals[0];
if (command !== "rollup" && command !== "downsample" && command !== "today") {
  console.error("usage: npm run usage-history -- rollup [--watch] | downsample | today");
  process.exit(2);
}
const env = serviceEnv();
const log = (level: "warn" | "error") => (msg: string, meta?: unknown) =>
  console[level](`${new Date().toISOString()} ${level.toUpperCase()} ${msg}${meta ? ` ${JSON.stringify(meta)}` : ""}`);
const rt = createBillingRuntime({
  databaseUrl: env.databaseUrl,
  redisUrl: null,
  timeZone: env.timeZone,
  poolMax: 2,
  repair: false,
  logger: { warn: log("warn"), error: log("error") },
});

try {
  if (command === "today") {
    const r = await refreshTodayOverview(rt.pool, rt.clock);
    console.log(r ? `today's overview: ${r.platforms} platform(s) in ${r.ms} ms` : "another instance is refreshing it");
  } else if (command === "downsample") {
    const r = await downsampleHistory(rt.pool, rt.clock, historyRetentionFromEnv());
    console.log(`downsampled ${r.days} day(s); deleted ${r.hourlyDeleted} hourly and ${r.dailyDeleted} daily row(s)`);
  } else {
    const { rows } = await rt.pool.query<{ t: string | null }>("SELECT to_regclass('public.usage_logs')::text AS t");
    if (!rows[0].t) throw new Error("no public.usage_logs here: the usage_logs reader is for attached mode");
    const w = new UsageLogRollup(
      { pool: rt.pool, clock: rt.clock, logger: { warn: log("warn"), error: log("error") } },
      {
        batchSize: Number(process.env.USAGE_ROLLUP_BATCH_SIZE ?? 5000),
        intervalMs: Number(process.env.USAGE_ROLLUP_INTERVAL_MS ?? 5000),
      },
    );
    let total = 0;
    for (;;) {
      const r = await w.catchUp(1000);
      total += r.ids;
      if (r.ids === 0) break;
      console.log(`${new Date().toISOString()} read ${total} usage_logs row(s) so far`);
    }
    console.log(`${new Date().toISOString()} caught up: ${total} row(s)`);
    if (values.watch) {
      w.start();
      await new Promise<void>((resolve) => {
        process.on("SIGINT", resolve);
        process.on("SIGTERM", resolve);
      });
      await w.stop();
    }
  }
} catch (e) {
  console.error(`usage-history: ${(e as Error).message}`);
  process.exitCode = 1;
} finally {
  await rt.close();
}
