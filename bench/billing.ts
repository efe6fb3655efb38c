// npm run bench:billing — throughput and latency of the billing hot paths against the real services.
//
//   1. eligibility check on a cache hit vs a raw ioredis HGETALL of the same keys (c=1, c=64), and
//      vs a raw HMGET of the 11 fields — the command the check sends (c=64)
//   2. QuotaCache.increment vs a raw EVALSHA of the same script with the same args (c=1, c=64), and
//      that script's cost vs the gateway's own increment script (raw EVALSHA both)
//   3. QuotaRepository.incrementExactlyOnce (BEGIN + write, COMMIT: two round trips) vs a plain
//      one-statement UPDATE, 1 hot row and 1000 rows (c=16)
//   4. process RSS before / after 1,000,000 cache-hit checks (c=64)
//
// DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/postgres) names the server only: the
// run creates its own database qc_bench_<pid>_<ts>, migrates it (scripts/migrate.mjs deploy) and
// drops it WITH (FORCE) at the end, pass or fail. REDIS_URL (default redis://127.0.0.1:6379): the
// run claims an empty database number 1–15 (DBSIZE 0, then SET qc:bench:claim <id> NX) and flushes
// it at the end if the claim is still its own. Non-local hosts are refused unless
// ALLOW_REMOTE_BENCH=1. Results: a table on stdout and bench-results/billing-<timestamp>.json.
// Progress goes to stderr. Targets are printed, never asserted.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import Redis from "ioredis";

import { formatGoFloat, formatGoInt } from "@/lib/billing/encoding";
import { billingKeys, ledgerKeys } from "@/lib/billing/keys";
import { OpIds } from "@/lib/billing/ledger";
import {
  DIRTY_SET_TTL_SECONDS,
  FENCE_TTL_SECONDS,
  OP_MAP_TTL_SECONDS,
  QUOTA_CACHE_TTL_SECONDS,
  QUOTA_FIELDS,
  QUOTA_SCHEMA_VERSION,
  QUOTA_SCRIPTS,
  type QuotaCache,
} from "@/lib/billing/quota-cache";
import { createBillingRuntime, type BillingRuntime } from "@/lib/billing/runtime";

import { throwawayServices } from "./lib/throwaway-services";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
process.chdir(root);

// ---- parameters ----
const USERS = 1000;
const PLATFORM = "anthropic";
const DAILY_LIMIT = 1e9;
const CHECK_OPS_C1 = 20_000;
const CHECK_OPS_C64 = 200_000;
const INCR_OPS_C1 = 20_000;
const INCR_OPS_C64 = 100_000;
const DB_OPS = 5_000;
const DB_CONCURRENCY = 16;
const RSS_CHECKS = 1_000_000;
const COST = 0.01;
/** markDirty as the service passes it with the default config (flusherEnabled = false). */
const MARK_DIRTY = false;

// ---- targets (printed next to the figures, not asserted) ----
const TARGET_CHECK_RATIO = 0.9;
const TARGET_INCR_RATIO = 0.9;
const TARGET_CHECK_P99_MS = 2;
const TARGET_RSS_PCT = 10;

const started = performance.now();
const runId = `${process.pid}_${Date.now()}`;
const dbName = `qc_bench_${runId}`;
const baseDbUrl = process.env.DATABASE_URL || "postgresql://postgres@127.0.0.1:5432/postgres";
const baseRedisUrl = process.env.REDIS_URL || "redis://127.0.0.1:6379";
const CLAIM_KEY = "qc:bench:claim";

const progress = (m: string) => process.stderr.write(`[bench] ${m}\n`);

// ---- measurement ----

type Measurement = {
  name: string;
  concurrency: number;
  ops: number;
  seconds: number;
  opsPerSec: number;
  p50Ms: number | null;
  p99Ms: number | null;
  baseline?: string;
  baselineOpsPerSec?: number;
  ratio?: number;
  target?: string;
};

type Run = { ops: number; seconds: number; latencies: Float64Array | null };

/**
 * `total` operations over `concurrency` async workers sharing one counter; op(i) gets the global
 * op index. Each op's latency is taken individually with performance.now() unless record = false.
 */
async function runOps(
  total: number,
  concurrency: number,
  op: (i: number) => Promise<unknown>,
  opts: { record?: boolean; onEvery?: { n: number; fn: (done: number) => void } } = {},
): Promise<Run> {
  const record = opts.record ?? true;
  const latencies = record ? new Float64Array(total) : null;
  const every = opts.onEvery;
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= total) return;
      if (latencies) {
        const t0 = performance.now();
        await op(i);
        latencies[i] = performance.now() - t0;
      } else {
        await op(i);
      }
      if (every && (i + 1) % every.n === 0) every.fn(i + 1);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
  return { ops: total, seconds: (performance.now() - t0) / 1000, latencies };
}

/** Nearest-rank percentile of an ascending array. */
function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

function summarize(name: string, concurrency: number, runs: Run[]): Measurement {
  const ops = runs.reduce((s, r) => s + r.ops, 0);
  const seconds = runs.reduce((s, r) => s + r.seconds, 0);
  let p50Ms: number | null = null;
  let p99Ms: number | null = null;
  if (runs.every((r) => r.latencies)) {
    const all = new Float64Array(ops);
    let o = 0;
    for (const r of runs) {
      all.set(r.latencies as Float64Array, o);
      o += r.ops;
    }
    all.sort();
    p50Ms = percentile(all, 0.5);
    p99Ms = percentile(all, 0.99);
  }
  return { name, concurrency, ops, seconds, opsPerSec: ops / seconds, p50Ms, p99Ms };
}

/**
 * Library op vs its raw baseline at one concurrency: warm both up, then measure in ABBA blocks
 * (LEG_BLOCKS of them, each leg 1/(2·LEG_BLOCKS) of the ops) so drift — JIT, CPU clocks, a noisy
 * neighbour on a shared VM, table bloat — hits both sides alike. Measured on the 2-core VM with the
 * same HGETALL on both sides (8 runs each, c=64 × 200k ops and c=1 × 20k ops): one block of halves
 * gave ratios 0.86–1.21, five blocks 0.91–1.06, fifty blocks 0.97–1.03.
 */
const LEG_BLOCKS = 50;
async function measurePair(p: {
  name: string;
  baselineName: string;
  concurrency: number;
  ops: number;
  lib: (i: number) => Promise<unknown>;
  raw: (i: number) => Promise<unknown>;
  warmupOps?: number;
}): Promise<[Measurement, Measurement]> {
  const warm = p.warmupOps ?? Math.min(Math.ceil(p.ops / 5), 20_000);
  progress(`${p.name} vs ${p.baselineName}, c=${p.concurrency}: warm-up ${warm} ops each, then ${p.ops} ops each`);
  await runOps(warm, p.concurrency, p.lib, { record: false });
  await runOps(warm, p.concurrency, p.raw, { record: false });
  const legs = 2 * LEG_BLOCKS;
  const leg = (k: number) => Math.floor((p.ops * (k + 1)) / legs) - Math.floor((p.ops * k) / legs);
  const a: Run[] = [];
  const b: Run[] = [];
  for (let blk = 0; blk < LEG_BLOCKS; blk++) {
    a.push(await runOps(leg(2 * blk), p.concurrency, p.lib));
    b.push(await runOps(leg(2 * blk), p.concurrency, p.raw));
    b.push(await runOps(leg(2 * blk + 1), p.concurrency, p.raw));
    a.push(await runOps(leg(2 * blk + 1), p.concurrency, p.lib));
  }
  const lib = summarize(p.name, p.concurrency, a);
  const raw = summarize(p.baselineName, p.concurrency, b);
  lib.baseline = raw.name;
  lib.baselineOpsPerSec = raw.opsPerSec;
  lib.ratio = lib.opsPerSec / raw.opsPerSec;
  return [lib, raw];
}

// ---- services: own database, own Redis db ----

const services = throwawayServices({
  dbName,
  baseDbUrl,
  baseRedisUrl,
  runId,
  claimKey: CLAIM_KEY,
  log: (m) => progress(m),
});
const { assertLocal, createDatabase, migrate, claimRedisDb, cleanup } = services;

/** The open runtime, closed on failure or a signal. */
const state: { runtime: BillingRuntime | null } = { runtime: null };
let interrupted = false;
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  // `on`, not `once`: npm/tsx relay Ctrl-C, so it arrives twice mid-cleanup.
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    console.error(`\n[bench] ${sig}: cleaning up`);
    void (async () => {
      await state.runtime?.close().catch(() => {});
      await cleanup();
      process.exit(130);
    })();
  });
}

// ---- helpers ----

function gcNow() {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
}

const fmtInt = (n: number | undefined) => (n === undefined ? "" : Math.round(n).toLocaleString("en-US"));
const fmtMs = (n: number | null | undefined) => (n === null || n === undefined ? "-" : n.toFixed(3));
const fmtRatio = (n: number | undefined) => (n === undefined ? "" : `${n.toFixed(2)}x`);

function printTable(rows: Measurement[]) {
  const header = ["name", "conc", "ops/s", "p50 ms", "p99 ms", "baseline ops/s", "ratio", "target"];
  const cells = rows.map((r) => [
    r.name,
    String(r.concurrency),
    fmtInt(r.opsPerSec),
    fmtMs(r.p50Ms),
    fmtMs(r.p99Ms),
    fmtInt(r.baselineOpsPerSec),
    fmtRatio(r.ratio),
    r.target ?? "",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const left = new Set([0, 7]);
  const line = (c: string[]) =>
    c
      .map((s, i) => (left.has(i) ? s.padEnd(widths[i]) : s.padStart(widths[i])))
      .join("  ")
      .trimEnd();
  console.log(line(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const c of cells) console.log(line(c));
}

// ---- main ----

async function main() {
  assertLocal(baseDbUrl, "PostgreSQL");
  assertLocal(baseRedisUrl, "Redis");

  const databaseUrl = await createDatabase();
  progress(`database ${dbName}`);
  await migrate(databaseUrl);
  const redisUrl = await claimRedisDb();
  progress(`Redis db ${services.redisDb}`);

  const logged = { warn: 0, error: 0, last: "" };
  const rt = createBillingRuntime({
    databaseUrl,
    redisUrl,
    poolMax: DB_CONCURRENCY,
    repair: false, // no background passes while measuring
    logger: {
      warn: (m, meta) => {
        logged.warn++;
        logged.last = `${m} ${JSON.stringify(meta)}`;
      },
      error: (m, meta) => {
        logged.error++;
        logged.last = `${m} ${JSON.stringify(meta)}`;
      },
    },
  });
  state.runtime = rt;
  const redis = rt.redis as Redis;
  const cache = rt.cache as QuotaCache;
  const { pool, repo, service } = rt;

  // Machine facts.
  const redisInfo = await redis.info("server");
  const pgFacts = await pool.query<{ v: string; sc: string; fsync: string }>(
    "SELECT current_setting('server_version') AS v, current_setting('synchronous_commit') AS sc, current_setting('fsync') AS fsync",
  );
  const machine = {
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? "unknown",
    totalMemMiB: Math.round(os.totalmem() / 2 ** 20),
    exposeGc: typeof (globalThis as { gc?: unknown }).gc === "function",
    redisVersion: /^redis_version:(.*)$/m.exec(redisInfo)?.[1]?.trim() ?? "unknown",
    postgresVersion: pgFacts.rows[0].v,
    postgresSynchronousCommit: pgFacts.rows[0].sc,
    postgresFsync: pgFacts.rows[0].fsync,
  };
  progress(
    `node ${machine.node}, ${machine.cpus} cpus, Redis ${machine.redisVersion}, PostgreSQL ${machine.postgresVersion}`,
  );
  if (!machine.exposeGc)
    progress("global.gc is not available (run node with --expose-gc); RSS figures include garbage");

  // Fixtures: users, a daily limit each, the cache built by one check per user.
  const { rows: userRows } = await pool.query<{ id: string }>(
    `INSERT INTO users (email, password_hash) SELECT 'bench-' || g || '@bench.invalid', 'x' FROM generate_series(1, $1::int) g RETURNING id`,
    [USERS],
  );
  const userIds = userRows.map((r) => Number(r.id));
  await runOps(
    USERS,
    16,
    (i) =>
      repo.upsertForUser(userIds[i], [
        { platform: PLATFORM, limits: { daily: DAILY_LIMIT, weekly: null, monthly: null } },
      ]),
    {
      record: false,
    },
  );
  for (const id of userIds) await service.checkUserPlatformQuotaEligibility(id, PLATFORM);
  const keys = userIds.map((id) => billingKeys.userPlatformQuota(id, PLATFORM));
  let hits = 0;
  for (const id of userIds) {
    const d = await service.checkUserPlatformQuotaEligibility(id, PLATFORM);
    if (d.allowed && d.source === "cache") hits++;
  }
  if (hits !== USERS) throw new Error(`cache not built: ${hits}/${USERS} checks hit the cache`);
  progress(`${USERS} users with a ${PLATFORM} daily limit, cache built`);

  const results: Measurement[] = [];

  // 1. Eligibility check on a cache hit vs raw HGETALL (how upstream reads the hash).
  let notHit = 0;
  const check = async (i: number) => {
    const d = await service.checkUserPlatformQuotaEligibility(userIds[i % USERS], PLATFORM);
    if (d.source !== "cache" || !d.allowed) notHit++;
  };
  const hgetall = (i: number) => redis.hgetall(keys[i % USERS]);
  for (const [c, ops] of [
    [1, CHECK_OPS_C1],
    [64, CHECK_OPS_C64],
  ] as const) {
    const [lib, raw] = await measurePair({
      name: "check (cache hit)",
      baselineName: "raw HGETALL",
      concurrency: c,
      ops,
      lib: check,
      raw: hgetall,
    });
    const ok = (lib.ratio ?? 0) >= TARGET_CHECK_RATIO;
    lib.target =
      `>=${TARGET_CHECK_RATIO}x raw: ${ok ? "met" : "MISSED"}` +
      (c === 64
        ? `; p99<=${TARGET_CHECK_P99_MS}ms: ${(lib.p99Ms ?? Infinity) <= TARGET_CHECK_P99_MS ? "met" : "missed"}`
        : "");
    results.push(lib, raw);
  }
  // The check reads with HMGET of the 11 fields (same bytes, no field-name map): its cost against
  // that same command, raw.
  const hmget = (i: number) => redis.hmget(keys[i % USERS], ...QUOTA_FIELDS);
  const [libSame, rawSame] = await measurePair({
    name: "check (cache hit)",
    baselineName: "raw HMGET (the check's command)",
    concurrency: 64,
    ops: CHECK_OPS_C64,
    lib: check,
    raw: hmget,
  });
  results.push(libSame, rawSame);
  if (notHit > 0) throw new Error(`${notHit} checks did not decide from the cache`);

  // 2. Redis increment: library vs raw EVALSHA of the same script with the same arguments (fresh op
  // ids for both: an op id is applied at most once), and that script vs the gateway's own.
  const ours = QUOTA_SCRIPTS.increment;
  const gateway = QUOTA_SCRIPTS.gatewayIncrement;
  for (const sc of [ours, gateway]) {
    if ((await redis.script("LOAD", sc.lua)) !== sc.sha)
      throw new Error(`SCRIPT LOAD returned an unexpected sha for ${sc.name}`);
  }
  const libIds = new OpIds();
  const rawIds = new OpIds();
  const INC = { ttlSeconds: QUOTA_CACHE_TTL_SECONDS, markDirty: MARK_DIRTY, leaseMs: 30_000 };
  const cost = formatGoFloat(COST);
  let notApplied = 0;
  const libIncr = async (i: number) => {
    if ((await cache.increment(userIds[i % USERS], PLATFORM, COST, libIds.next(), INC)) !== "applied") notApplied++;
  };
  const rawIncr = async (i: number) => {
    const id = userIds[i % USERS];
    const op = rawIds.next();
    const r = await redis.evalsha(
      ours.sha,
      4,
      keys[i % USERS],
      billingKeys.dirtySet,
      ledgerKeys.ops(op.epoch),
      ledgerKeys.fence(id, PLATFORM),
      cost,
      formatGoInt(QUOTA_CACHE_TTL_SECONDS),
      formatGoInt(QUOTA_SCHEMA_VERSION),
      MARK_DIRTY ? billingKeys.dirtyMember(id, PLATFORM) : "",
      formatGoInt(DIRTY_SET_TTL_SECONDS),
      formatGoInt(op.index),
      op.id,
      "30000",
      formatGoInt(FENCE_TTL_SECONDS),
      formatGoInt(OP_MAP_TTL_SECONDS),
    );
    if (r !== 1) notApplied++;
  };
  const gatewayArgs = userIds.map((id) => [
    cost,
    formatGoInt(QUOTA_CACHE_TTL_SECONDS),
    formatGoInt(QUOTA_SCHEMA_VERSION),
    MARK_DIRTY ? billingKeys.dirtyMember(id, PLATFORM) : "",
    formatGoInt(DIRTY_SET_TTL_SECONDS),
  ]);
  const rawGateway = async (i: number) => {
    if ((await redis.evalsha(gateway.sha, 2, keys[i % USERS], billingKeys.dirtySet, ...gatewayArgs[i % USERS])) !== 1)
      notApplied++;
  };
  for (const [c, ops] of [
    [1, INCR_OPS_C1],
    [64, INCR_OPS_C64],
  ] as const) {
    const [lib, raw] = await measurePair({
      name: "cache.increment",
      baselineName: "raw EVALSHA (same script)",
      concurrency: c,
      ops,
      lib: libIncr,
      raw: rawIncr,
    });
    lib.target = `>=${TARGET_INCR_RATIO}x raw: ${(lib.ratio ?? 0) >= TARGET_INCR_RATIO ? "met" : "MISSED"}`;
    results.push(lib, raw);
  }
  const [oursRaw, theirs] = await measurePair({
    name: "raw EVALSHA, our increment script",
    baselineName: "raw EVALSHA, gateway's script",
    concurrency: 64,
    ops: INCR_OPS_C64,
    lib: rawIncr,
    raw: rawGateway,
  });
  results.push(oursRaw, theirs);
  if (notApplied > 0) throw new Error(`${notApplied} increments did not apply`);

  // 3. Database increment path: 1 hot row and 1000 rows, vs a plain UPDATE on the same rows.
  const { rows: quotaRows } = await pool.query<{ id: string; user_id: string }>(
    "SELECT id, user_id FROM user_platform_quotas WHERE platform = $1 AND deleted_at IS NULL",
    [PLATFORM],
  );
  const rowIdByUser = new Map(quotaRows.map((r) => [Number(r.user_id), r.id]));
  const rowIds = userIds.map((id) => {
    const rowId = rowIdByUser.get(id);
    if (rowId === undefined) throw new Error(`no quota row for user ${id}`);
    return rowId;
  });
  const costText = formatGoFloat(COST);
  const RAW_UPDATE = "UPDATE user_platform_quotas SET daily_usage_usd = daily_usage_usd + $1 WHERE id = $2";
  for (const [label, pick] of [
    ["1 hot row", () => 0],
    [`${USERS} rows`, (i: number) => i % USERS],
  ] as const) {
    const [lib, raw] = await measurePair({
      name: `repo.incrementExactlyOnce, ${label}`,
      baselineName: `raw UPDATE, ${label}`,
      concurrency: DB_CONCURRENCY,
      ops: DB_OPS,
      warmupOps: 500,
      lib: (i) => repo.incrementUsageWithReset(userIds[pick(i)], PLATFORM, COST, Date.now()),
      raw: (i) => pool.query(RAW_UPDATE, [costText, rowIds[pick(i)]]),
    });
    results.push(lib, raw);
  }

  // 4. RSS across 1M cache-hit checks at c=64 (the earlier phases warmed these paths up).
  progress(`RSS: ${RSS_CHECKS.toLocaleString("en-US")} cache-hit checks at c=64 (one dot per 100k)`);
  gcNow();
  const before = process.memoryUsage();
  const rssRun = await runOps(RSS_CHECKS, 64, check, {
    record: false,
    onEvery: { n: 100_000, fn: () => process.stderr.write(".") },
  });
  process.stderr.write("\n");
  gcNow();
  const after = process.memoryUsage();
  if (notHit > 0) throw new Error(`${notHit} checks did not decide from the cache`);
  const rssChangePct = ((after.rss - before.rss) / before.rss) * 100;
  const rssOk = Math.abs(rssChangePct) <= TARGET_RSS_PCT;
  const rssRow = summarize("check (cache hit), RSS run", 64, [rssRun]);
  results.push(rssRow);

  const logs = { warnings: logged.warn, errors: logged.error, last: logged.last || undefined };
  await rt.close();
  state.runtime = null;

  // Output.
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
  console.log("");
  printTable(results);
  console.log("");
  console.log(
    `RSS before ${RSS_CHECKS.toLocaleString("en-US")} checks: ${mib(before.rss)} (heap used ${mib(before.heapUsed)})`,
  );
  console.log(
    `RSS after  ${RSS_CHECKS.toLocaleString("en-US")} checks: ${mib(after.rss)} (heap used ${mib(after.heapUsed)})`,
  );
  console.log(
    `RSS change: ${rssChangePct >= 0 ? "+" : ""}${rssChangePct.toFixed(1)} %   target: flat (±${TARGET_RSS_PCT} %): ${rssOk ? "met" : "MISSED"}` +
      (machine.exposeGc ? "" : "  (no --expose-gc)"),
  );
  if (logs.warnings || logs.errors)
    console.log(`billing logger: ${logs.warnings} warnings, ${logs.errors} errors; last: ${logs.last}`);

  const finishedAt = new Date();
  const totalSeconds = (performance.now() - started) / 1000;
  const report = {
    finishedAt: finishedAt.toISOString(),
    totalSeconds,
    machine,
    params: {
      users: USERS,
      platform: PLATFORM,
      dailyLimit: DAILY_LIMIT,
      cost: COST,
      markDirty: MARK_DIRTY,
      checkOpsC1: CHECK_OPS_C1,
      checkOpsC64: CHECK_OPS_C64,
      incrementOpsC1: INCR_OPS_C1,
      incrementOpsC64: INCR_OPS_C64,
      dbOps: DB_OPS,
      dbConcurrency: DB_CONCURRENCY,
      rssChecks: RSS_CHECKS,
      order: "warm-up both, then library / baseline / baseline / library, half the ops per leg",
    },
    targets: {
      checkRatio: TARGET_CHECK_RATIO,
      incrementRatio: TARGET_INCR_RATIO,
      checkP99MsAtC64: TARGET_CHECK_P99_MS,
      rssFlatPct: TARGET_RSS_PCT,
    },
    results,
    rss: {
      checks: RSS_CHECKS,
      concurrency: 64,
      gcAvailable: machine.exposeGc,
      before,
      after,
      changePct: rssChangePct,
      targetMet: rssOk,
    },
    billingLogger: logs,
  };
  const dir = path.join(root, "bench-results");
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `billing-${finishedAt.toISOString().replace(/[:.]/g, "-")}.json`);
  fs.writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nresults: ${path.relative(root, file)}`);
  console.log(`total runtime: ${totalSeconds.toFixed(1)} s`);
}

let failed = false;
try {
  await main();
} catch (e) {
  failed = true;
  console.error(`[bench] ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
} finally {
  await state.runtime?.close().catch(() => {});
  await cleanup();
}
process.exit(failed ? 1 : 0);
