// npm run bench:bulk — a bulk operation (issue 16) over 100,000 users (BENCH_USERS) with 4 quota
// rows each, seeded with generate_series: preview (dry run + fingerprint), start (fingerprint
// check + the job's frozen user list), apply at batch sizes 100 / 500 / 2000 (each a new set-limits
// operation that changes every user), and the undo of the last one — wall time, users/s, the
// process's peak RSS and heap, and the event loop's delay while the batches run (the console's
// worker runs in the page's process: that delay is what a page request waits on).
//
// Baseline in the same run: the same change as ONE raw UPDATE … FROM unnest() of every user's row
// (no audit, no versions, no outbox, no Redis): the ratio is what the bookkeeping costs.
//
// Direct mode by default; BENCH_FLUSHER=1 for flusher mode (the Redis work is then in place).
// Own database and Redis db (bench/lib/services.ts). Results: a table on stdout and
// bench-results/bulk-<timestamp>.json; nothing is asserted.
import { monitorEventLoopDelay, performance } from "node:perf_hooks";

import { createBillingRuntime } from "@/lib/billing/runtime";
import { BulkWorker, previewBulk, startBulkJob, startBulkUndo } from "@/lib/bulk/engine";
import { NO_BULK_FILTER, type BulkRequest } from "@/lib/bulk/types";

import { onCleanup, runBench, SHORT, writeReport } from "./lib/lifecycle";
import { loadAvg, machineFacts, machineLine } from "./lib/machine";
import { BenchError, progress } from "./lib/run";
import { benchServices } from "./lib/services";

const USERS = Number(process.env.BENCH_USERS ?? (SHORT ? 10_000 : 100_000));
const BATCHES = SHORT ? [500] : [100, 500, 2000];
const FLUSHER = process.env.BENCH_FLUSHER === "1";
const admin = { id: 1, email: "bench-admin@bulk.bench" };

/** Peak RSS / heap while fn runs, sampled every 20 ms (plus before and after). */
async function measured<T>(fn: () => Promise<T>) {
  let rss = process.memoryUsage().rss;
  let heap = process.memoryUsage().heapUsed;
  const sample = () => {
    const m = process.memoryUsage();
    rss = Math.max(rss, m.rss);
    heap = Math.max(heap, m.heapUsed);
  };
  const timer = setInterval(sample, 20);
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const t0 = performance.now();
  try {
    const value = await fn();
    sample();
    return {
      value,
      seconds: (performance.now() - t0) / 1000,
      peakRssMb: rss / 2 ** 20,
      peakHeapMb: heap / 2 ** 20,
      loopP99Ms: loop.percentile(99) / 1e6,
      loopMaxMs: loop.max / 1e6,
    };
  } finally {
    clearInterval(timer);
    loop.disable();
  }
}

runBench(async () => {
  const svc = await benchServices("bulk");
  const m = await machineFacts(svc.pool, svc.redis);
  progress(`seeding ${USERS} users × 4 rows`);
  await svc.pool.query(
    `INSERT INTO users (email, username, password_hash, role, status, signup_source, created_at)
     SELECT 'bulk-' || g || '@bulk.bench', 'u' || g, 'x', 'user', 'active',
            (ARRAY['email','linuxdo','oidc','wechat','github','google','dingtalk'])[1 + g % 7], now() - make_interval(mins => g)
     FROM generate_series(1, $1::int) g`,
    [USERS],
  );
  await svc.pool.query(
    `INSERT INTO user_platform_quotas (user_id, platform, daily_limit_usd, weekly_limit_usd, monthly_limit_usd,
        daily_usage_usd, weekly_usage_usd, monthly_usage_usd, daily_window_start, weekly_window_start, monthly_window_start)
     SELECT u.id, p.platform, 10, 50, 100, u.id % 7, u.id % 30, u.id % 90, now(), now(), now()
     FROM users u CROSS JOIN (VALUES ('anthropic'), ('openai'), ('gemini'), ('grok')) AS p(platform)`,
  );
  await svc.pool.query("ANALYZE");
  const billing = createBillingRuntime({
    databaseUrl: svc.databaseUrl,
    redisUrl: svc.redisUrl,
    timeZone: "Asia/Shanghai",
    config: { flusherEnabled: FLUSHER },
    repair: false,
  });
  onCleanup(() => billing.close());
  const deps = { billing };
  const filter = { ...NO_BULK_FILTER, q: "@bulk.bench" };
  const request = (usd: number): BulkRequest => ({
    selection: { kind: "filter", filter },
    operation: { kind: "set_limits", platforms: ["openai"], windows: ["daily"], value: { mode: "value", usd } },
  });

  const rows: Array<Record<string, string | number>> = [];
  const add = (step: string, batch: number | string, r: Awaited<ReturnType<typeof measured>>, users: number) => {
    rows.push({
      step,
      batch,
      seconds: Number(r.seconds.toFixed(2)),
      usersPerSecond: Math.round(users / r.seconds),
      peakRssMb: Math.round(r.peakRssMb),
      peakHeapMb: Math.round(r.peakHeapMb),
      loopP99Ms: Number(r.loopP99Ms.toFixed(1)),
      loopMaxMs: Number(r.loopMaxMs.toFixed(1)),
    });
    progress(`${step} (batch ${batch}): ${r.seconds.toFixed(2)} s`);
  };

  // Raw baseline: the same cells for every user in one statement.
  const raw = await measured(async () => {
    const { rows: ids } = await svc.pool.query<{ id: string }>("SELECT id FROM users ORDER BY id");
    await svc.pool.query(
      `UPDATE user_platform_quotas q SET daily_limit_usd = 9, updated_at = now() FROM unnest($1::bigint[]) AS u(id)
       WHERE q.user_id = u.id AND q.platform = 'openai' AND q.deleted_at IS NULL`,
      [ids.map((r) => r.id)],
    );
  });
  add("raw UPDATE (baseline)", "-", raw, USERS);

  let usd = 11;
  let lastJob = 0;
  for (const batch of BATCHES) {
    const req = request(usd++);
    const preview = await measured(() => previewBulk(req, deps));
    if (preview.value.usersChanged !== USERS) throw new BenchError(`preview changes ${preview.value.usersChanged}`);
    add("preview", "-", preview, USERS);
    const start = await measured(() => startBulkJob(req, preview.value.fingerprint, admin, deps));
    if (!start.value.ok) throw new BenchError(`start: ${start.value.code}`);
    add("start (fingerprint + freeze)", "-", start, USERS);
    lastJob = start.value.jobId;
    const apply = await measured(() => new BulkWorker(deps, { batchSize: batch }).runOnce());
    add("apply", batch, apply, USERS);
  }
  const undo = await measured(async () => {
    const u = await startBulkUndo(lastJob, admin, deps);
    if (!u.ok) throw new BenchError(`undo: ${u.code}`);
    return new BulkWorker(deps, { batchSize: BATCHES[BATCHES.length - 1] }).runOnce();
  });
  add("undo (start + apply)", BATCHES[BATCHES.length - 1], undo, USERS);
  const outbox = await svc.pool.query<{ n: number }>("SELECT count(*)::int AS n FROM cache_invalidation_outbox");

  console.log(`\nbulk operations: ${USERS} users × 4 rows, ${FLUSHER ? "flusher" : "direct"} mode`);
  console.log(machineLine(m, `load ${loadAvg().join(" ")}`));
  console.table(rows);
  const base = raw.seconds;
  for (const r of rows.filter((x) => x.step === "apply"))
    console.log(`apply at batch ${r.batch}: ${(Number(r.seconds) / base).toFixed(1)}× the raw UPDATE`);
  console.log(`outbox rows left for the repairer's second pass: ${outbox.rows[0].n}`);
  writeReport("bulk", { users: USERS, flusher: FLUSHER, machine: m, rows, rawSeconds: base });
});
