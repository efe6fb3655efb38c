// npm run simulate -- [options]   Gateway simulator: plays gateway traffic through the real billing
// chain (lib/billing only, exactly as a Node gateway would): for each request an eligibility check,
// then — if allowed — usage recording of a random cost. Live progress every second, a summary and
// the ledger check at the end (scripts/lib/traffic.ts): every attempted record counted, PostgreSQL's
// growth compared with them key by key, every touched Redis hash compared with PostgreSQL. It prints
// lost and double-counted writes and drift, and exits 1 on any.
//
//   --email a@x,b@y        simulate these existing users (their quota rows are used as they are)
//   --users N              else N simulator users (sim-<n>@simulator.invalid), created when missing   [20]
//   --platforms p,q        platforms to charge                                 [anthropic,openai,gemini]
//   --rate R               requests per second (open loop)                                            [200]
//   --duration S           seconds to run                                                             [30]
//   --cost-min / --cost-max  cost range in USD, 4 decimals                                   [0.01 / 0.50]
//   --daily/--weekly/--monthly X   limits ("none" = unlimited) for simulator users without rows [5 / 20 / 60]
//   --set-limits           apply those limits to every simulated user now (usage is kept)
//   --flusher              flusher mode: Redis only + dirty set, an in-process flusher writes PostgreSQL
//   --seed N               random seed (repeatable runs)
//   --json                 print the summary as JSON (for scripts and tests)
//
// Uses DATABASE_URL / REDIS_URL / QUOTA_TIMEZONE, or the services of a running `npm run demo`.
import { parseArgs } from "node:util";

import { DEFAULT_PLATFORMS, isPlatform } from "@/lib/billing/platforms";
import { createBillingRuntime } from "@/lib/billing/runtime";
import { checkLiterals, PLATFORM_CHECK } from "@/lib/db/compat";

import { serviceEnv } from "./lib/service-env";
import { checkLedger, monthlySnapshot, pct, quiesce, runTraffic, UNIT } from "./lib/traffic";

const { values: a } = parseArgs({
  options: {
    email: { type: "string" },
    users: { type: "string", default: "20" },
    platforms: { type: "string", default: "anthropic,openai,gemini" },
    rate: { type: "string", default: "200" },
    duration: { type: "string", default: "30" },
    "cost-min": { type: "string", default: "0.01" },
    "cost-max": { type: "string", default: "0.5" },
    daily: { type: "string", default: "5" },
    weekly: { type: "string", default: "20" },
    monthly: { type: "string", default: "60" },
    flusher: { type: "boolean", default: false },
    "set-limits": { type: "boolean", default: false },
    seed: { type: "string" },
    json: { type: "boolean", default: false },
  },
});

function fail(msg: string): never {
  console.error(`simulate: ${msg}`);
  process.exit(2);
}
const num = (name: string, v: string | undefined, min: number, max: number) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) fail(`--${name} must be a number from ${min} to ${max}`);
  return n;
};
const rate = num("rate", a.rate, 1, 100_000);
const duration = num("duration", a.duration, 1, 86_400);
const costMin = num("cost-min", a["cost-min"], 0.0001, 1e6);
const costMax = num("cost-max", a["cost-max"], costMin, 1e6);
const platforms = (a.platforms ?? "")
  .split(",")
  .map((p) => p.trim())
  .filter(Boolean);
const limitOf = (name: "daily" | "weekly" | "monthly") =>
  a[name] === "" || a[name] === "none" ? null : num(name, a[name], 0, 1e9);

// Small seeded PRNG (mulberry32) so runs can be repeated.
let seed = a.seed ? Number(a.seed) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
const random = () => {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

const env = serviceEnv();
const errors: Record<string, number> = {};
const rt = createBillingRuntime({
  databaseUrl: env.databaseUrl,
  redisUrl: env.redisUrl,
  timeZone: env.timeZone,
  poolMax: 8,
  config: { flusherEnabled: a.flusher },
  logger: { warn: () => {}, error: (m) => void (errors[m] = (errors[m] ?? 0) + 1) },
});

const limits = { daily: limitOf("daily"), weekly: limitOf("weekly"), monthly: limitOf("monthly") };

// The platforms this database takes: its CHECK's list (standalone: the console's own; attached: the
// gateway's, so a fork's extra platform can be simulated too).
const registry = await (async () => {
  const { rows } = await rt.pool.query<{ def: string }>(
    `SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint
      WHERE conname = $1 AND conrelid = to_regclass('public.user_platform_quotas')`,
    [PLATFORM_CHECK],
  );
  return rows[0] ? checkLiterals(rows[0].def) : [...DEFAULT_PLATFORMS];
})();
for (const p of platforms)
  if (!isPlatform(p, registry)) {
    await rt.close();
    fail(`unknown platform "${p}" (this database allows: ${registry.join(", ")})`);
  }

async function resolveUsers(): Promise<Array<{ id: number; email: string }>> {
  const chosen = await chooseUsers();
  if (a["set-limits"]) {
    for (const u of chosen) {
      const existing = await rt.repo.listByUser(u.id);
      const keep = existing
        .filter((r) => !platforms.includes(r.platform))
        .map((r) => ({
          platform: r.platform,
          limits: { daily: r.dailyLimit, weekly: r.weeklyLimit, monthly: r.monthlyLimit },
        }));
      await rt.repo.upsertForUser(u.id, [...keep, ...platforms.map((platform) => ({ platform, limits }))]);
      // As the admin API does after a change: in place in flusher mode (the hash holds unflushed usage), else dropped.
      for (const p of platforms) {
        if (a.flusher) await rt.cache?.applyLimits(u.id, p, limits);
        else await rt.cache?.invalidate(u.id, p);
      }
    }
  }
  return chosen;
}

async function chooseUsers(): Promise<Array<{ id: number; email: string }>> {
  if (a.email) {
    const emails = a.email
      .split(",")
      .map((e) => e.trim())
      .filter(Boolean);
    const { rows } = await rt.pool.query<{ id: string; email: string }>(
      "SELECT id, email FROM users WHERE lower(email) = ANY($1::text[]) AND deleted_at IS NULL",
      [emails.map((e) => e.toLowerCase())],
    );
    if (rows.length !== emails.length) fail(`unknown e-mail among: ${emails.join(", ")}`);
    return rows.map((r) => ({ id: Number(r.id), email: r.email }));
  }
  const n = num("users", a.users, 1, 100_000);
  // Password hash "!" never verifies: simulator users cannot sign in.
  await rt.pool.query(
    `INSERT INTO users (email, password_hash, signup_source)
     SELECT 'sim-' || g || '@simulator.invalid', '!', 'email' FROM generate_series(1, $1::int) g
     ON CONFLICT DO NOTHING`,
    [n],
  );
  const { rows } = await rt.pool.query<{ id: string; email: string; has_rows: boolean }>(
    `SELECT u.id, u.email, EXISTS (SELECT 1 FROM user_platform_quotas q WHERE q.user_id = u.id AND q.deleted_at IS NULL) AS has_rows
     FROM users u WHERE u.email = ANY(ARRAY(SELECT 'sim-' || g || '@simulator.invalid' FROM generate_series(1, $1::int) g)) ORDER BY u.id`,
    [n],
  );
  for (const r of rows) {
    if (!r.has_rows)
      await rt.repo.upsertForUser(
        Number(r.id),
        platforms.map((platform) => ({ platform, limits })),
      );
  }
  return rows.map((r) => ({ id: Number(r.id), email: r.email }));
}

const users = await resolveUsers();
const userIds = users.map((u) => u.id);
const keys = userIds.flatMap((userId) => platforms.map((platform) => ({ userId, platform })));
const before = await monthlySnapshot(rt, keys);
const flusher = a.flusher && rt.cache ? rt.flusher({ intervalMs: 500 }) : null;
flusher?.start();

const usd = (units: bigint | number) => `$${(Number(units) / UNIT).toFixed(4)}`;
const pad = (s: string | number, n: number) => String(s).padStart(n);
if (!a.json) {
  console.log(
    `simulate: ${users.length} user(s) × ${platforms.join("/")} at ${rate} req/s for ${duration} s` +
      ` (${env.source}; ${env.redisUrl ? "Redis" : "NO Redis"}; ${a.flusher ? "flusher mode" : "direct DB increments"})`,
  );
  if (users.length <= 5) console.log(`          users: ${users.map((u) => `${u.email} (#${u.id})`).join(", ")}`);
}

const res = await runTraffic(rt, {
  users: userIds,
  platforms,
  rate,
  durationSeconds: duration,
  costMin,
  costMax,
  random,
  onTick: a.json
    ? undefined
    : (t) => {
        const b = t.blocked;
        console.log(
          `t=${pad(t.elapsed.toFixed(0), 4)}s  req ${pad(t.requests, 7)}  allowed ${pad(t.allowed, 7)}  ` +
            `blocked d/w/m ${b.daily}/${b.weekly}/${b.monthly}${b.outage ? ` outage ${b.outage}` : ""}  ` +
            `checks/s ${pad(t.perSecond.toFixed(0), 6)}  p50 ${t.p50.toFixed(2)} ms  p99 ${t.p99.toFixed(2)} ms  ` +
            `recorded ${usd(t.attemptedUnits)}`,
        );
      },
});
await flusher?.stop();
const settled = await quiesce(rt, null);
const report = await checkLedger(rt, before, res, costMax);
const blockedTotal = Object.values(res.blocked).reduce((x, y) => x + y, 0);
const consistent =
  res.allowed + blockedTotal === res.requests &&
  settled.ok &&
  report.lost.length === 0 &&
  report.doubled.length === 0 &&
  report.drift.length === 0;
const summary = {
  users: users.length,
  platforms,
  seconds: Number(res.seconds.toFixed(1)),
  requests: res.requests,
  allowed: res.allowed,
  blocked: res.blocked,
  blockedTotal,
  decisionSources: res.bySource,
  /** every allowed request's cost (attempted records) */
  attemptedUsd: Number(res.attemptedUnits) / UNIT,
  /** the attempted records the write guard accepted (users without limits are not recorded, as in the gateway) */
  recordedUsd: Number(res.recordedUnits) / UNIT,
  parked: res.parked,
  skippedNoLimit: res.skippedNoLimit,
  postgresDeltaUsd: report.postgresDeltaUsd,
  lostWrites: report.lost,
  doubleCounted: report.doubled,
  drift: report.drift,
  overCap: report.overCap,
  settled: settled.ok,
  checkP50Ms: Number(pct(res.latencies, 50).toFixed(3)),
  checkP99Ms: Number(pct(res.latencies, 99).toFixed(3)),
  checksPerSecond: Math.round(res.requests / res.seconds),
  errors: { ...errors, ...res.errors },
  consistent,
};
if (a.json) console.log(JSON.stringify(summary));
else {
  const ok = (b: boolean) => (b ? "✓" : "✗");
  console.log(
    `\nrequests ${res.requests} = allowed ${res.allowed} + blocked ${blockedTotal}` +
      ` (daily ${res.blocked.daily}, weekly ${res.blocked.weekly}, monthly ${res.blocked.monthly}, outage ${res.blocked.outage}) ${ok(res.allowed + blockedTotal === res.requests)}`,
  );
  console.log(
    `recorded ${usd(res.recordedUnits)} (of ${usd(res.attemptedUnits)} attempted); PostgreSQL monthly usage Δ $${report.postgresDeltaUsd.toFixed(4)} ` +
      `${ok(report.lost.length === 0 && report.doubled.length === 0)}` +
      (res.skippedNoLimit
        ? `  (${res.skippedNoLimit} allowed requests of users without limits are not recorded, as in the gateway)`
        : ""),
  );
  console.log(
    `lost writes: ${report.lost.length ? report.lost.map((l) => `${l.key} −$${l.missingUsd.toFixed(4)}`).join(", ") : "none"} ${ok(report.lost.length === 0)}`,
  );
  console.log(
    `double-counted: ${report.doubled.length ? report.doubled.map((l) => `${l.key} +$${l.extraUsd.toFixed(4)}`).join(", ") : "none"} ${ok(report.doubled.length === 0)}`,
  );
  console.log(
    `Redis vs PostgreSQL drift: ${report.drift.length ? report.drift.map((d) => `${d.key} Redis ${d.redis} ≠ PG ${d.postgres}`).join("; ") : `none in ${report.keys} key(s)`} ${ok(report.drift.length === 0)}`,
  );
  if (Object.keys(res.parked).length) console.log(`parked and finished later: ${JSON.stringify(res.parked)}`);
  if (!settled.ok) console.log(`✗ work left after waiting: ${JSON.stringify(settled.left)}`);
  console.log(
    `check latency p50 ${summary.checkP50Ms} ms, p99 ${summary.checkP99Ms} ms; ${summary.checksPerSecond} checks/s`,
  );
  if (Object.keys(summary.errors).length) console.log("errors:", summary.errors);
}
await rt.close();
process.exit(consistent ? 0 : 1);
