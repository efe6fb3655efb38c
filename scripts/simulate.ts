// npm run simulate -- [options]   Gateway simulator: plays gateway traffic through the real billing
// chain (lib/billing only, exactly as a Node gateway would): for each request an eligibility check,
// then — if allowed — usage recording of a random cost. Live progress every second, a summary and
// a consistency check at the end.
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
import { PLATFORMS, isPlatform } from "@/lib/billing/platforms";
import { createBillingRuntime } from "@/lib/billing/runtime";
import { monthlyWindowExpired } from "@/lib/billing/windows";
import { serviceEnv } from "./lib/service-env";

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
const platforms = (a.platforms ?? "").split(",").map((p) => p.trim()).filter(Boolean);
for (const p of platforms) if (!isPlatform(p)) fail(`unknown platform "${p}" (known: ${PLATFORMS.join(", ")})`);
const limitOf = (name: "daily" | "weekly" | "monthly") => (a[name] === "" || a[name] === "none" ? null : num(name, a[name], 0, 1e9));

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
const rt = createBillingRuntime({
  databaseUrl: env.databaseUrl,
  redisUrl: env.redisUrl,
  timeZone: env.timeZone,
  poolMax: 8,
  config: { flusherEnabled: a.flusher },
  logger: { warn: () => {}, error: (m) => void (errors[m] = (errors[m] ?? 0) + 1) },
});
const errors: Record<string, number> = {};

const limits = { daily: limitOf("daily"), weekly: limitOf("weekly"), monthly: limitOf("monthly") };

async function resolveUsers(): Promise<Array<{ id: number; email: string }>> {
  const chosen = await chooseUsers();
  if (a["set-limits"]) {
    for (const u of chosen) {
      const existing = await rt.repo.listByUser(u.id);
      const keep = existing.filter((r) => !platforms.includes(r.platform)).map((r) => ({
        platform: r.platform,
        limits: { daily: r.dailyLimit, weekly: r.weeklyLimit, monthly: r.monthlyLimit },
      }));
      await rt.repo.upsertForUser(u.id, [...keep, ...platforms.map((platform) => ({ platform, limits }))]);
      for (const p of platforms) await rt.cache?.delete(u.id, p); // as the admin API does after a change
    }
  }
  return chosen;
}

async function chooseUsers(): Promise<Array<{ id: number; email: string }>> {
  if (a.email) {
    const emails = a.email.split(",").map((e) => e.trim()).filter(Boolean);
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
     ON CONFLICT (email) DO NOTHING`,
    [n],
  );
  const { rows } = await rt.pool.query<{ id: string; email: string; has_rows: boolean }>(
    `SELECT u.id, u.email, EXISTS (SELECT 1 FROM user_platform_quotas q WHERE q.user_id = u.id AND q.deleted_at IS NULL) AS has_rows
     FROM users u WHERE u.email = ANY(ARRAY(SELECT 'sim-' || g || '@simulator.invalid' FROM generate_series(1, $1::int) g)) ORDER BY u.id`,
    [n],
  );
  for (const r of rows) {
    if (!r.has_rows) await rt.repo.upsertForUser(Number(r.id), platforms.map((platform) => ({ platform, limits })));
  }
  return rows.map((r) => ({ id: Number(r.id), email: r.email }));
}

/** Σ current monthly usage of the simulated rows, in 1e-4 USD (an expired window counts as 0). */
async function monthlyUnits(userIds: number[], now: number): Promise<bigint> {
  const { rows } = await rt.pool.query<{ monthly_usage_usd: string; monthly_window_start: Date | null }>(
    `SELECT monthly_usage_usd::text, monthly_window_start FROM user_platform_quotas
     WHERE user_id = ANY($1::bigint[]) AND platform = ANY($2::text[]) AND deleted_at IS NULL`,
    [userIds, platforms],
  );
  let sum = 0n;
  for (const r of rows) {
    if (monthlyWindowExpired(r.monthly_window_start?.getTime() ?? null, now)) continue;
    sum += BigInt(Math.round(Number(r.monthly_usage_usd) * 10_000));
  }
  return sum;
}

const users = await resolveUsers();
const userIds = users.map((u) => u.id);
const startUnits = await monthlyUnits(userIds, Date.now());
const flusher = a.flusher && rt.cache ? rt.flusher({ intervalMs: 500 }) : null;
flusher?.start();

const stats = {
  requests: 0,
  allowed: 0,
  blocked: { daily: 0, weekly: 0, monthly: 0, outage: 0 } as Record<string, number>,
  recordedUnits: 0n, // costs that reached PostgreSQL (or the dirty set in flusher mode), 1e-4 USD
  skippedNoLimit: 0,
  latencies: [] as number[],
};
let windowLatencies: number[] = [];
let windowRequests = 0;
let inflight = 0;
const MAX_INFLIGHT = 1024;

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return 0;
  const s = Float64Array.from(xs).sort();
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

async function oneRequest() {
  const user = userIds[Math.floor(random() * userIds.length)];
  const platform = platforms[Math.floor(random() * platforms.length)];
  const units = Math.round((costMin + random() * (costMax - costMin)) * 10_000);
  const t0 = performance.now();
  const d = await rt.service.checkUserPlatformQuotaEligibility(user, platform);
  const ms = performance.now() - t0;
  stats.latencies.push(ms);
  windowLatencies.push(ms);
  stats.requests++;
  windowRequests++;
  if (!d.allowed) {
    const w = "window" in d.error ? d.error.window : "outage";
    stats.blocked[w]++;
    return;
  }
  stats.allowed++;
  const r = await rt.service.recordUsage({ userId: user, platform, cost: units / 10_000 });
  if (!r.recorded) stats.skippedNoLimit++;
  else if (r.dbWritten || (a.flusher && r.cacheApplied)) stats.recordedUnits += BigInt(units);
}

const usd = (units: bigint) => `$${(Number(units) / 10_000).toFixed(4)}`;
const pad = (s: string | number, n: number) => String(s).padStart(n);
if (!a.json) {
  console.log(
    `simulate: ${users.length} user(s) × ${platforms.join("/")} at ${rate} req/s for ${duration} s` +
      ` (${env.source}; ${env.redisUrl ? "Redis" : "NO Redis"}; ${a.flusher ? "flusher mode" : "direct DB increments"})`,
  );
  if (users.length <= 5) console.log(`          users: ${users.map((u) => `${u.email} (#${u.id})`).join(", ")}`);
}

const started = performance.now();
let scheduled = 0;
const pending = new Set<Promise<void>>();
await new Promise<void>((resolve) => {
  let lastReport = started;
  const timer = setInterval(() => {
    const now = performance.now();
    const elapsed = (now - started) / 1000;
    const due = Math.min(Math.floor(elapsed * rate), Math.floor(duration * rate));
    while (scheduled < due && inflight < MAX_INFLIGHT) {
      scheduled++;
      inflight++;
      const p = oneRequest()
        .catch((e) => void (errors[String(e)] = (errors[String(e)] ?? 0) + 1))
        .finally(() => {
          inflight--;
          pending.delete(p);
        });
      pending.add(p);
    }
    if (now - lastReport >= 1000 && !a.json) {
      const secs = (now - lastReport) / 1000;
      const b = stats.blocked;
      console.log(
        `t=${pad(elapsed.toFixed(0), 4)}s  req ${pad(stats.requests, 7)}  allowed ${pad(stats.allowed, 7)}  ` +
          `blocked d/w/m ${b.daily}/${b.weekly}/${b.monthly}${b.outage ? ` outage ${b.outage}` : ""}  ` +
          `checks/s ${pad((windowRequests / secs).toFixed(0), 6)}  p50 ${pct(windowLatencies, 50).toFixed(2)} ms  p99 ${pct(windowLatencies, 99).toFixed(2)} ms  ` +
          `recorded ${usd(stats.recordedUnits)}`,
      );
      windowLatencies = [];
      windowRequests = 0;
      lastReport = now;
    }
    if (elapsed >= duration && scheduled >= Math.floor(duration * rate)) {
      clearInterval(timer);
      resolve();
    }
  }, 10);
});
await Promise.all(pending);
await flusher?.stop();

const endUnits = await monthlyUnits(userIds, Date.now());
const blockedTotal = Object.values(stats.blocked).reduce((x, y) => x + y, 0);
const summary = {
  users: users.length,
  platforms,
  seconds: Number(((performance.now() - started) / 1000).toFixed(1)),
  requests: stats.requests,
  allowed: stats.allowed,
  blocked: stats.blocked,
  blockedTotal,
  recordedUsd: Number(stats.recordedUnits) / 10_000,
  skippedNoLimit: stats.skippedNoLimit,
  postgresDeltaUsd: Number(endUnits - startUnits) / 10_000,
  checkP50Ms: Number(pct(stats.latencies, 50).toFixed(3)),
  checkP99Ms: Number(pct(stats.latencies, 99).toFixed(3)),
  checksPerSecond: Math.round(stats.requests / ((performance.now() - started) / 1000)),
  errors,
  consistent: stats.allowed + blockedTotal === stats.requests && endUnits - startUnits === stats.recordedUnits,
};
if (a.json) console.log(JSON.stringify(summary));
else {
  console.log(`\nrequests ${summary.requests} = allowed ${summary.allowed} + blocked ${blockedTotal}` +
    ` (daily ${stats.blocked.daily}, weekly ${stats.blocked.weekly}, monthly ${stats.blocked.monthly}, outage ${stats.blocked.outage})` +
    ` ${stats.allowed + blockedTotal === stats.requests ? "✓" : "✗ MISMATCH"}`);
  console.log(`recorded ${usd(stats.recordedUnits)}; PostgreSQL monthly usage Δ ${usd(endUnits - startUnits)} ` +
    `${endUnits - startUnits === stats.recordedUnits ? "✓" : "✗ MISMATCH"}` +
    (stats.skippedNoLimit ? `  (${stats.skippedNoLimit} allowed requests of users without limits are not recorded, as in the gateway)` : ""));
  console.log(`check latency p50 ${summary.checkP50Ms} ms, p99 ${summary.checkP99Ms} ms; ${summary.checksPerSecond} checks/s`);
  if (Object.keys(errors).length) console.log("errors:", errors);
}
await rt.close();
process.exit(summary.consistent ? 0 : 1);
