// npm run reconcile -- [options]   Drift check between the shared Redis quota cache and PostgreSQL
// (lib/billing/reconcile.ts): every active quota row with a limit is compared with its Redis hash;
// keys whose difference is expected right now (waiting for the flusher, in flight, leased, outbox
// work pending) are skipped. Prints the drifted keys and a summary line.
//
//   --repair          repair what drifted (direct mode: drop the hash, the next check rebuilds it from
//                     PostgreSQL; flusher mode: queue the key for the flusher, limits from PostgreSQL)
//   --user 12,13      only these user ids
//   --max N           stop after N keys (the summary says so)
//   --json            print the result as JSON (for scripts and tests)
//
// Exit status: 0 no drift (or all of it repaired with --repair), 1 drift remains, 2 bad arguments,
// an unreachable store or a failed check.
//
// Uses DATABASE_URL / REDIS_URL / QUOTA_TIMEZONE / QUOTA_FLUSHER_ENABLED, or the services of a running
// `npm run demo`. QUOTA_FLUSHER_ENABLED must match the gateway: it decides what "expected" and
// "repair" mean.
import { parseArgs } from "node:util";
import Redis from "ioredis";

import { billingPool, REDIS_OPTIONS } from "@/lib/billing/connections";
import { formatGoFloat } from "@/lib/billing/encoding";
import { isKnownPlatform, platformLabel } from "@/lib/billing/platforms";
import { reconcile, type DriftItem, type ReconcileResult } from "@/lib/billing/reconcile";
import { billingConfigFromEnv, createBillingRuntime } from "@/lib/billing/runtime";

import { serviceEnv } from "./lib/service-env";

function fail(msg: string): never {
  console.error(`reconcile: ${msg}`);
  process.exit(2);
}

let args: { repair: boolean; json: boolean; user?: string; max?: string };
try {
  args = parseArgs({
    options: {
      repair: { type: "boolean", default: false },
      user: { type: "string" },
      max: { type: "string" },
      json: { type: "boolean", default: false },
    },
    strict: true,
    allowPositionals: false,
  }).values as typeof args;
} catch (e) {
  fail(
    `${e instanceof Error ? e.message : String(e)}\nusage: npm run reconcile -- [--repair] [--user <id,…>] [--max <n>] [--json]`,
  );
}

const userIds = args.user === undefined ? undefined : parseUsers(args.user);
function parseUsers(v: string): number[] {
  const ids = v.split(",").map((s) => s.trim());
  if (ids.length === 0 || ids.some((s) => !/^\d{1,15}$/.test(s) || Number(s) <= 0))
    fail(`--user must be a comma-separated list of positive user ids, got "${v}"`);
  return [...new Set(ids.map(Number))];
}
let maxKeys: number | undefined;
if (args.max !== undefined) {
  if (!/^\d{1,9}$/.test(args.max) || Number(args.max) < 1)
    fail(`--max must be a positive whole number, got "${args.max}"`);
  maxKeys = Number(args.max);
}

let env: ReturnType<typeof serviceEnv>;
try {
  env = serviceEnv();
} catch (e) {
  fail(e instanceof Error ? e.message : String(e));
}
if (!env.redisUrl) fail("REDIS_URL is required: the drift check compares the Redis cache with PostgreSQL");

/** host:port only — a connection string's password never reaches the terminal. */
const where = (url: string) => {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || (u.protocol.startsWith("redis") ? "6379" : "5432")}`;
  } catch {
    return "(unparsable URL)";
  }
};

const pool = billingPool(env.databaseUrl, 2);
const redis = new Redis(env.redisUrl, { ...REDIS_OPTIONS, lazyConnect: true, retryStrategy: () => null });
let redisError = "";
redis.on("error", (e: Error) => void (redisError = (e as { code?: string }).code ?? e.message));

async function close() {
  redis.disconnect();
  await pool.end().catch(() => {});
}

async function reachable() {
  try {
    await pool.query("SELECT 1 FROM user_platform_quotas LIMIT 1");
  } catch (e) {
    await close();
    const code = (e as { code?: string }).code;
    fail(
      `PostgreSQL at ${where(env.databaseUrl)} is not usable (${code === "42P01" ? "not migrated: run npm run db:migrate" : (code ?? (e instanceof Error ? e.message : String(e)))})`,
    );
  }
  try {
    await redis.connect();
    await redis.ping();
  } catch (e) {
    await close();
    fail(
      `Redis at ${where(env.redisUrl!)} is not reachable (${redisError || (e instanceof Error ? e.message : String(e))})`,
    );
  }
}

const config = billingConfigFromEnv();
const logger = {
  warn: (m: string, meta?: unknown) => console.warn(`warn ${m}${meta ? ` ${JSON.stringify(meta)}` : ""}`),
  error: (m: string, meta?: unknown) => console.error(`error ${m}${meta ? ` ${JSON.stringify(meta)}` : ""}`),
};

await reachable();
// repair: false — this tool runs no background repairer (the console and the gateway do); it is not
// closed through rt.close() either, which would run one last repairer pass from a read-only check.
const rt = createBillingRuntime({ pool, redis, timeZone: env.timeZone, config, logger, repair: false });
let result: ReconcileResult;
try {
  result = await reconcile(rt, { repair: args.repair, maxKeys, userIds });
} catch (e) {
  await close();
  fail(`the check failed: ${e instanceof Error ? e.message : String(e)}`);
}
await close();

const remaining = result.drifted - result.repaired;
if (args.json) {
  console.log(JSON.stringify({ ...result, source: env.source, remaining }, null, 2));
} else {
  printTable(result.items);
  if (result.items.length < result.drifted)
    console.log(`(${result.drifted - result.items.length} more drifted keys not listed)`);
  console.log(
    `checked ${result.checked} · absent ${result.absent} · skipped (expected) ${result.skipped} · drifted ${result.drifted} · repaired ${result.repaired} · mode ${result.mode}` +
      (result.truncated ? ` · stopped at --max ${maxKeys}` : "") +
      ` · ${env.source}`,
  );
  if (remaining > 0 && !args.repair) console.log("run again with --repair to repair them");
}
process.exit(remaining > 0 ? 1 : 0);

function printTable(items: DriftItem[]) {
  if (items.length === 0) {
    console.log("no drift");
    return;
  }
  const usage = (s: DriftItem["redis"]) =>
    `${formatGoFloat(s.daily)}/${formatGoFloat(s.weekly)}/${formatGoFloat(s.monthly)}`;
  const limits = (s: DriftItem["redis"]) => s.limits.map((l) => (l === null ? "-" : formatGoFloat(l))).join("/");
  const rows = items.map((i) => [
    String(i.userId),
    isKnownPlatform(i.platform) ? `${platformLabel(i.platform)} (${i.platform})` : i.platform,
    whatDiffers(i),
    usage(i.redis),
    usage(i.postgres),
    limits(i.redis),
    limits(i.postgres),
    i.repaired ? "yes" : "no",
  ]);
  const head = [
    "user",
    "platform",
    "differs",
    "redis usage d/w/m",
    "pg usage d/w/m",
    "redis limits",
    "pg limits",
    "repaired",
  ];
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  const line = (r: string[]) =>
    r
      .map((v, c) => v.padEnd(widths[c]))
      .join("  ")
      .trimEnd();
  console.log(line(head));
  console.log(line(widths.map((w) => "-".repeat(w))));
  for (const r of rows) console.log(line(r));
}

/** "usage daily,weekly" / "limits monthly": the kind and the windows whose values differ. */
function whatDiffers(i: DriftItem): string {
  const windows = (["daily", "weekly", "monthly"] as const).filter((w, n) =>
    i.kind === "usage"
      ? Math.abs(i.redis[w] - i.postgres[w]) > 1e-7
      : !sameLimit(i.redis.limits[n], i.postgres.limits[n]),
  );
  return windows.length ? `${i.kind} ${windows.join(",")}` : i.kind;
}

function sameLimit(a: number | null, b: number | null) {
  return a === null ? b === null : b !== null && Math.abs(a - b) < 1e-9;
}
