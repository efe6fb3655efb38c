// npm run bench:dashboard — the user dashboard's performance acceptance (issue 6), against a
// production build (`next start`):
//
//   1. GET /api/v1/user/platform-quotas with a user's session: 5000 requests from 50 concurrent
//      clients and 500 sequential ones, each after 100 warm-ups; every response must be 200 with
//      code 0 and 8 items. Target (printed, not asserted): p99 < 50 ms.
//      For reference, GET /api/v1/me (session check + one user read, no quotas) at the same
//      concurrency: what the framework, the session and the pool cost without the quota read.
//   2. Server render of GET /en/dashboard: 100 sequential requests after 10 warm-ups; every
//      response must be 200 and contain data-quota-card="anthropic".
//   3. First-load JavaScript of /en/dashboard, gzipped (level 9): every /_next/static/…js named by
//      a <script src>, <link rel="modulepreload"> or <link rel="preload" as="script"> of the page,
//      fetched once each. Target (printed, not asserted): < 200 kB (1 kB = 1000 bytes).
//   4. Machine facts and the load average before / after the HTTP runs.
//
// Seed: one user (role 'user') with a row on each of the 8 platforms (limits, usage, window starts
// = now) and 1000 other users with 8 rows each. Half of the user's platforms (anthropic, gemini,
// grok, zhipu) also get a current Redis entry whose usage is the row's + 0.25, so the responses
// prove which path each item took (Redis for those four, the database for the rest).
//
// Each request is timed from fetch() to the last byte of the body.
//
// DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/postgres) names the server only: the
// run creates its own database qc_bench_dash_<pid>_<ts>, migrates it (scripts/migrate.mjs deploy)
// and drops it WITH (FORCE) at the end, pass or fail. REDIS_URL (default redis://127.0.0.1:6379):
// the run claims an empty database number 1–15 (DBSIZE 0, then SET qc:bench:claim <id> NX) and
// flushes it at the end if the claim is still its own. Non-local hosts are refused unless
// ALLOW_REMOTE_BENCH=1. Needs a production build (`npm run build`) that contains the route; it
// never builds itself. Results: a table on stdout and bench-results/dashboard-<timestamp>.json.
// Progress goes to stderr. BENCH_CPU_PROF=<dir> runs the server with node --cpu-prof and writes
// its profile(s) (.cpuprofile, covering all HTTP runs) to <dir> when it stops.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import zlib from "node:zlib";
import Redis from "ioredis";
import pg from "pg";

import { hashSessionToken, newSessionToken, signSessionToken } from "@/lib/auth/token";
import { PLATFORMS } from "@/lib/billing/platforms";
import { QUOTA_SCHEMA_VERSION, QuotaCache, type QuotaCacheEntry } from "@/lib/billing/quota-cache";

import {
  freePort,
  groupCpuSeconds,
  percentile,
  startServer,
  stopServer,
  waitHealthy,
  type Server,
} from "./lib/bench-server";
import { throwawayServices } from "./lib/throwaway-services";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
process.chdir(root);

// ---- parameters ----
const OTHER_USERS = 1000;
const API_PATH = "/api/v1/user/platform-quotas";
const API_ROUTE = "/api/v1/user/platform-quotas/route"; // key in .next/server/app-paths-manifest.json
const ME_PATH = "/api/v1/me";
const PAGE_PATH = "/en/dashboard";
const API_WARMUP = 100;
const API_REQUESTS = 5000;
const API_CONCURRENCY = 50;
const API_SEQ_REQUESTS = 500;
const ME_REQUESTS = 2000;
const PAGE_WARMUP = 10;
const PAGE_REQUESTS = 100;
const GZIP_LEVEL = 9;
const CARD_MARKER = 'data-quota-card="anthropic"';
const SESSION_COOKIE = "__Host-qc_session"; // sessionCookieName() in production (COOKIE_SECURE unset)
/** Added to the row's usage in each Redis entry: a value ending in .25 proves the cache was read. */
const CACHE_BUMP = 0.25;

// ---- targets (printed next to the figures, not asserted) ----
const TARGET_API_P99_MS = 50;
const TARGET_JS_KB = 200;

/** The user's 8 rows: limits (null = unlimited) and usage per window. */
type Seeded = {
  platform: string;
  dl: number | null;
  wl: number | null;
  ml: number | null;
  du: number;
  wu: number;
  mu: number;
};
const MY_QUOTAS: Seeded[] = [
  { platform: "anthropic", dl: 10, wl: null, ml: null, du: 3, wu: 7, mu: 12 },
  { platform: "openai", dl: null, wl: null, ml: 100, du: 2, wu: 20, mu: 42 },
  { platform: "gemini", dl: null, wl: 0, ml: null, du: 0, wu: 0, mu: 0 },
  { platform: "antigravity", dl: 5, wl: 20, ml: null, du: 5, wu: 5, mu: 5 },
  { platform: "grok", dl: null, wl: null, ml: null, du: 1.5, wu: 1.5, mu: 1.5 },
  { platform: "kimi", dl: null, wl: null, ml: 50, du: 1, wu: 4, mu: 10 },
  { platform: "zhipu", dl: null, wl: null, ml: null, du: 0, wu: 0, mu: 0 },
  { platform: "deepseek", dl: 2, wl: 10, ml: 30, du: 0.5, wu: 4, mu: 9 },
];
/** Platforms that get a Redis entry: every other one. */
const CACHED = new Set(MY_QUOTAS.filter((_, i) => i % 2 === 0).map((q) => q.platform));
/** Platforms with at least one limit: the dashboard shows a card for each. */
const CARDS = MY_QUOTAS.filter((q) => q.dl !== null || q.wl !== null || q.ml !== null).map((q) => q.platform);

const started = performance.now();
const runId = `${process.pid}_${Date.now()}`;
const dbName = `qc_bench_dash_${runId}`;
const baseDbUrl = process.env.DATABASE_URL || "postgresql://postgres@127.0.0.1:5432/postgres";
const baseRedisUrl = process.env.REDIS_URL || "redis://127.0.0.1:6379";
const quotaTimeZone = process.env.QUOTA_TIMEZONE || "Asia/Shanghai";
const CLAIM_KEY = "qc:bench:claim";

const progress = (m: string) => process.stderr.write(`[bench] ${m}\n`);

// ---- measurement ----

type Row = {
  scenario: string;
  requests: number;
  concurrency: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  meanMs: number;
  maxMs: number;
  reqPerSec: number;
  meanBytes: number;
  /** CPU time of the Next.js server per request (user + system, all its processes); null without /proc */
  serverCpuMsPerReq: number | null;
  /** "p99 < 50 ms: met" and the like, or "" */
  target: string;
};

type Fetched = { ms: number; bytes: number; body: string };

class BenchError extends Error {}

/** One GET with the cookie, read to the last byte; a non-200 throws. */
async function get(base: string, cookie: string, pathAndQuery: string): Promise<Fetched> {
  const t0 = performance.now();
  const res = await fetch(base + pathAndQuery, {
    headers: { cookie },
    redirect: "manual",
    signal: AbortSignal.timeout(30_000),
  });
  const body = await res.text();
  const ms = performance.now() - t0;
  if (res.status !== 200) {
    const loc = res.headers.get("location");
    throw new BenchError(`GET ${pathAndQuery}: HTTP ${res.status}${loc ? ` -> ${loc}` : ""} ${body.slice(0, 200)}`);
  }
  return { ms, bytes: Buffer.byteLength(body), body };
}

type ApiItem = Record<string, unknown> & { platform: string };

/** 200 (checked by get), code 0 and exactly 8 items, or throws. Returns the items. */
function checkApi(f: Fetched): ApiItem[] {
  let json: { code?: unknown; data?: { platform_quotas?: unknown } };
  try {
    json = JSON.parse(f.body) as typeof json;
  } catch {
    throw new BenchError(`GET ${API_PATH}: 200 but not JSON: ${f.body.slice(0, 200)}`);
  }
  const items = json.data?.platform_quotas;
  if (json.code !== 0 || !Array.isArray(items) || items.length !== MY_QUOTAS.length) {
    throw new BenchError(`GET ${API_PATH}: expected code 0 and ${MY_QUOTAS.length} items, got ${f.body.slice(0, 300)}`);
  }
  return items as ApiItem[];
}

/**
 * Every item against the seed: limits from the row, usage from Redis (row + CACHE_BUMP) for the
 * cached platforms and from the row for the others. Returns the differences (empty = all as expected).
 */
function checkItems(items: ApiItem[]): string[] {
  const problems: string[] = [];
  const byPlatform = new Map(items.map((i) => [i.platform, i]));
  for (const q of MY_QUOTAS) {
    const it = byPlatform.get(q.platform);
    if (!it) {
      problems.push(`${q.platform}: missing`);
      continue;
    }
    const bump = CACHED.has(q.platform) ? CACHE_BUMP : 0;
    const want: Record<string, number | null> = {
      daily_limit_usd: q.dl,
      weekly_limit_usd: q.wl,
      monthly_limit_usd: q.ml,
      daily_usage_usd: q.du + bump,
      weekly_usage_usd: q.wu + bump,
      monthly_usage_usd: q.mu + bump,
    };
    for (const [k, v] of Object.entries(want)) {
      if (it[k] !== v) problems.push(`${q.platform}.${k}: ${JSON.stringify(it[k])}, expected ${v}`);
    }
  }
  return problems;
}

type Run = {
  latencies: Float64Array;
  seconds: number;
  bytes: number;
  first: Fetched | null;
  /** CPU seconds the server's processes used during the run (Linux /proc), or null */
  serverCpuSeconds: number | null;
};

/** USER_HZ: the unit of utime / stime in /proc/<pid>/stat (100 on Linux x86 and arm). */
/** Process group of the running `next start` (set by startServer), for the CPU figures. */
let serverPgid: number | null = null;

type Ctx = { base: string; cookie: string };

/**
 * `total` GETs of `pathAndQuery` over `concurrency` workers sharing one counter (one process, the
 * default undici agent: keep-alive). Every failure is counted; the first one is rethrown once all
 * workers have stopped. check() runs on each response after its time was taken.
 */
async function runRequests(
  ctx: Ctx,
  name: string,
  pathAndQuery: string,
  total: number,
  concurrency: number,
  check: (f: Fetched) => void,
): Promise<Run> {
  progress(`${name}: ${total} requests, concurrency ${concurrency}`);
  const latencies = new Float64Array(total);
  let bytes = 0;
  let next = 0;
  let failures = 0;
  let firstError: unknown = null;
  let first: Fetched | null = null;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= total || firstError !== null) return;
      try {
        const f = await get(ctx.base, ctx.cookie, pathAndQuery);
        check(f);
        latencies[i] = f.ms;
        bytes += f.bytes;
        if (i === 0) first = f;
      } catch (e) {
        failures++;
        firstError ??= e;
      }
    }
  };
  const cpu0 = groupCpuSeconds(serverPgid);
  const t0 = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
  const seconds = (performance.now() - t0) / 1000;
  const cpu1 = groupCpuSeconds(serverPgid);
  if (firstError !== null) {
    const msg = firstError instanceof Error ? firstError.message : String(firstError);
    throw new BenchError(`${name}: ${failures} failed request(s); first: ${msg}`);
  }
  return { latencies, seconds, bytes, first, serverCpuSeconds: cpu0 === null || cpu1 === null ? null : cpu1 - cpu0 };
}

/**
 * Open loop: `clients` clients, each requesting once every `intervalMs` (first request at a random
 * offset), for `seconds` — how the dashboard really loads the server (it polls every 10 s), as
 * opposed to runRequests' closed loop, which measures saturation.
 */
async function runPolling(
  ctx: Ctx,
  name: string,
  pathAndQuery: string,
  clients: number,
  intervalMs: number,
  seconds: number,
  check: (f: Fetched) => void,
): Promise<Run> {
  progress(`${name}: ${clients} clients polling every ${intervalMs} ms for ${seconds} s`);
  const latencies: number[] = [];
  let bytes = 0;
  let first: Fetched | null = null;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  const cpu0 = groupCpuSeconds(serverPgid);
  const client = async () => {
    await sleep(Math.random() * intervalMs);
    while (performance.now() < deadline) {
      const start = performance.now();
      const f = await get(ctx.base, ctx.cookie, pathAndQuery);
      check(f);
      latencies.push(f.ms);
      bytes += f.bytes;
      first ??= f;
      await sleep(Math.max(0, intervalMs - (performance.now() - start)));
    }
  };
  await Promise.all(Array.from({ length: clients }, client));
  const cpu1 = groupCpuSeconds(serverPgid);
  return {
    latencies: Float64Array.from(latencies),
    seconds: (performance.now() - t0) / 1000,
    bytes,
    first,
    serverCpuSeconds: cpu0 === null || cpu1 === null ? null : cpu1 - cpu0,
  };
}

function summarize(name: string, concurrency: number, r: Run, target: (row: Row) => string = () => ""): Row {
  const requests = r.latencies.length;
  const sorted = Float64Array.from(r.latencies).sort();
  const row: Row = {
    scenario: name,
    requests,
    concurrency,
    p50Ms: percentile(sorted, 0.5),
    p90Ms: percentile(sorted, 0.9),
    p99Ms: percentile(sorted, 0.99),
    meanMs: sorted.reduce((s, x) => s + x, 0) / requests,
    maxMs: sorted[sorted.length - 1],
    reqPerSec: requests / r.seconds,
    meanBytes: Math.round(r.bytes / requests),
    serverCpuMsPerReq: r.serverCpuSeconds === null ? null : (r.serverCpuSeconds * 1000) / requests,
    target: "",
  };
  row.target = target(row);
  return row;
}

/** Warm-up requests, concurrently when asked (they are checked like the measured ones, not timed). */
async function warmUp(ctx: Ctx, pathAndQuery: string, count: number, concurrency: number, check: (f: Fetched) => void) {
  let next = 0;
  const worker = async () => {
    while (next++ < count) check(await get(ctx.base, ctx.cookie, pathAndQuery));
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

// ---- first-load JavaScript ----

type Chunk = { url: string; rawBytes: number; gzipBytes: number; via: string; contains: string };

/** Attributes of one start tag (names lower-cased; valueless attributes map to ""). */
function attrs(tag: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const a of tag.matchAll(/([^\s"'<>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+)))?/g)) {
    m.set(a[1].toLowerCase(), (a[2] ?? a[3] ?? a[4] ?? "").replace(/&amp;/g, "&"));
  }
  return m;
}

/** How a `<script nomodule>` is listed: browsers that support modules never fetch it. */
const NOMODULE = "script nomodule";

/** Same-origin /_next/static/ JavaScript URLs named by the page's tags, with the kind of tag. */
function scriptUrls(html: string): Map<string, string> {
  const found = new Map<string, string>();
  const isJs = (u: string | undefined): u is string =>
    !!u && u.startsWith("/_next/static/") && /\.m?js$/.test(u.split(/[?#]/)[0]);
  for (const t of html.matchAll(/<script\b[^>]*>/gi)) {
    const a = attrs(t[0].slice(7));
    const src = a.get("src");
    if (isJs(src) && !found.has(src)) found.set(src, a.has("nomodule") ? NOMODULE : "script");
  }
  for (const t of html.matchAll(/<link\b[^>]*>/gi)) {
    const a = attrs(t[0].slice(5));
    const rel = (a.get("rel") ?? "").toLowerCase().split(/\s+/);
    const href = a.get("href");
    const kind = rel.includes("modulepreload")
      ? "modulepreload"
      : rel.includes("preload") && a.get("as") === "script"
        ? "preload"
        : null;
    if (kind && isJs(href) && !found.has(href)) found.set(href, kind);
  }
  return found;
}

/** /_next/static/…js paths mentioned inside the inline RSC payload (chunks of client components). */
function rscChunkRefs(html: string): Set<string> {
  const refs = new Set<string>();
  for (const m of html.matchAll(/<script>self\.__next_f\.push\(([\s\S]*?)\)<\/script>/g)) {
    for (const r of m[1].matchAll(/(?:\/_next\/)?static\/chunks\/[A-Za-z0-9_\-./~]+?\.js/g)) {
      refs.add(r[0].startsWith("/_next/") ? r[0] : `/_next/${r[0]}`);
    }
  }
  return refs;
}

/** Distinctive strings that survive minification → what a chunk most likely holds. */
const CONTENT_HINTS: Array<[RegExp, string]> = [
  [/__core-js_shared__/, "core-js polyfills"],
  [/X-Request-URL/, "fetch polyfill"],
  [/onCompositionStart|suppressHydrationWarning/, "react-dom client"],
  [/resolved_model|The reply ended\./, "react-server-dom (RSC client)"],
  [/next-router-state-tree|serverActionReducer|x-nextjs-/, "next app router"],
  [/NEXT_REDIRECT|isNextRouterError|ClientPageRoot|HTTPAccessFallbackBoundary/, "next client runtime"],
  [/Invalid number skeleton|UNMATCHED_CLOSING_TAG/, "ICU message parser (intl-messageformat)"],
  [/MISSING_MESSAGE|INSUFFICIENT_PATH|NEXT_LOCALE/, "next-intl/use-intl"],
  [/QueryClient|CancelledError|observerResultsUpdated|No mutationFn found/, "@tanstack/react-query"],
  [/Invalid DateTime/, "luxon"],
  [/ZodError/, "zod"],
  [/data-quota-card/, "dashboard quota cards (app)"],
  [/LocaleSwitcher|TimeZoneCookie/, "console shell (app)"],
  [/TURBOPACK_ASSET_SUFFIX/, "turbopack runtime"],
];

function contentHint(js: string): string {
  const hits = CONTENT_HINTS.filter(([re]) => re.test(js)).map(([, name]) => name);
  return hits.length ? hits.join(", ") : "?";
}

async function firstLoadJs(
  ctx: Ctx,
): Promise<{ chunks: Chunk[]; rscOnly: string[]; htmlBytes: number; htmlGzipBytes: number }> {
  const page = await get(ctx.base, ctx.cookie, PAGE_PATH);
  if (!page.body.includes(CARD_MARKER)) throw new BenchError(`GET ${PAGE_PATH}: 200 but no ${CARD_MARKER}`);
  const urls = scriptUrls(page.body);
  const rscOnly = [...rscChunkRefs(page.body)].filter((u) => !urls.has(u));
  const chunks: Chunk[] = [];
  for (const [url, via] of urls) {
    const res = await fetch(ctx.base + url, { signal: AbortSignal.timeout(30_000) });
    const buf = Buffer.from(await res.arrayBuffer());
    if (res.status !== 200) throw new BenchError(`GET ${url}: HTTP ${res.status}`);
    chunks.push({
      url,
      via,
      rawBytes: buf.length,
      gzipBytes: zlib.gzipSync(buf, { level: GZIP_LEVEL }).length,
      contains: contentHint(buf.toString("utf8")),
    });
  }
  chunks.sort((a, b) => b.gzipBytes - a.gzipBytes);
  return {
    chunks,
    rscOnly,
    htmlBytes: page.bytes,
    htmlGzipBytes: zlib.gzipSync(Buffer.from(page.body), { level: GZIP_LEVEL }).length,
  };
}

// ---- services: own database, own Redis db (as scripts/bench-users-page.ts) ----

const services = throwawayServices({
  dbName,
  baseDbUrl,
  baseRedisUrl,
  runId,
  claimKey: CLAIM_KEY,
  log: (m) => progress(m),
});
const { assertLocal, createDatabase, migrate, claimRedisDb, cleanup } = services;

// ---- the Next.js production server ----

/** The open server, pool and Redis connection, closed on failure or a signal. */
const state: { server: Server | null; pool: pg.Pool | null; redis: Redis | null } = {
  server: null,
  pool: null,
  redis: null,
};

async function closeAll() {
  if (state.server) await stopServer(state.server).catch(() => {});
  state.server = null;
  await state.pool?.end().catch(() => {});
  state.pool = null;
  state.redis?.disconnect();
  state.redis = null;
}

// `on`, not `once`: Ctrl-C reaches the whole process group, and npm / tsx relay it as well, so the
// signal arrives more than once; a second one without a handler would kill the cleanup half-way.
let interrupted = false;
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    console.error(`\n[bench] ${sig}: cleaning up`);
    void (async () => {
      await closeAll();
      await cleanup();
      process.exit(130);
    })();
  });
}

// ---- seed ----

async function seed(pool: pg.Pool, redis: Redis): Promise<{ userId: number; cachedKeys: number }> {
  const { rows: me } = await pool.query<{ id: string }>(
    `INSERT INTO users (email, username, password_hash, role, status, signup_source, balance, created_at)
     VALUES ('me@dashboard.bench', 'bench-me', 'x', 'user', 'active', 'email', 12.34, now() - interval '30 days') RETURNING id`,
  );
  const userId = Number(me[0].id);
  // Window starts = now, to the second (the Redis encoding keeps whole seconds).
  const { rows: mine } = await pool.query<{ platform: string; ds: string; ws: string; ms: string }>(
    `INSERT INTO user_platform_quotas (user_id, platform, daily_limit_usd, weekly_limit_usd, monthly_limit_usd,
        daily_usage_usd, weekly_usage_usd, monthly_usage_usd, daily_window_start, weekly_window_start, monthly_window_start)
     SELECT $1, q.platform, q.dl, q.wl, q.ml, q.du, q.wu, q.mu, date_trunc('second', now()), date_trunc('second', now()), date_trunc('second', now())
     FROM json_to_recordset($2::json) AS q(platform text, dl numeric, wl numeric, ml numeric, du numeric, wu numeric, mu numeric)
     RETURNING platform,
       (extract(epoch FROM daily_window_start) * 1000)::bigint::text AS ds,
       (extract(epoch FROM weekly_window_start) * 1000)::bigint::text AS ws,
       (extract(epoch FROM monthly_window_start) * 1000)::bigint::text AS ms`,
    [userId, JSON.stringify(MY_QUOTAS)],
  );
  await pool.query(
    `INSERT INTO users (email, username, password_hash, role, status, signup_source, balance, created_at)
     SELECT 'other-' || g || '@dashboard.bench', 'o' || g, 'x', 'user', 'active', 'email', (g % 100)::numeric, now() - make_interval(mins => g)
     FROM generate_series(1, $1::int) g`,
    [OTHER_USERS],
  );
  // 8 rows per other user; limits and usage cycle with the user number.
  await pool.query(
    `INSERT INTO user_platform_quotas (user_id, platform, daily_limit_usd, weekly_limit_usd, monthly_limit_usd,
        daily_usage_usd, weekly_usage_usd, monthly_usage_usd, daily_window_start, weekly_window_start, monthly_window_start)
     SELECT u.id, p.platform,
            CASE WHEN u.n % 3 = 0 THEN 10 END, CASE WHEN u.n % 4 = 0 THEN 50 END, CASE WHEN u.n % 2 = 0 THEN 100 END,
            u.n % 12, u.n % 40, u.n % 110, now(), now(), now()
     FROM (SELECT id, substring(email FROM '^other-([0-9]+)@')::int AS n FROM users WHERE email LIKE 'other-%@dashboard.bench') u
     CROSS JOIN unnest($1::text[]) AS p(platform)`,
    [[...PLATFORMS]],
  );
  await pool.query("ANALYZE");

  // Current Redis entries for half of the user's platforms: the row's limits and window starts,
  // usage + CACHE_BUMP. TTL 3600 s outlives the run.
  const cache = new QuotaCache(redis);
  const starts = new Map(mine.map((r) => [r.platform, { ds: Number(r.ds), ws: Number(r.ws), ms: Number(r.ms) }]));
  let cachedKeys = 0;
  for (const q of MY_QUOTAS) {
    if (!CACHED.has(q.platform)) continue;
    const s = starts.get(q.platform);
    if (!s) throw new Error(`seed: no row for ${q.platform}`);
    const entry: QuotaCacheEntry = {
      dailyUsage: q.du + CACHE_BUMP,
      weeklyUsage: q.wu + CACHE_BUMP,
      monthlyUsage: q.mu + CACHE_BUMP,
      version: 1,
      schemaVersion: QUOTA_SCHEMA_VERSION,
      dailyLimit: q.dl,
      weeklyLimit: q.wl,
      monthlyLimit: q.ml,
      dailyWindowStart: s.ds,
      weeklyWindowStart: s.ws,
      monthlyWindowStart: s.ms,
    };
    await cache.set(userId, q.platform, entry, 3600);
    cachedKeys++;
  }
  return { userId, cachedKeys };
}

// ---- output ----

const f1 = (n: number) => n.toFixed(1);
const kB = (bytes: number) => (bytes / 1000).toFixed(1);

/** `align`: one letter per column, "l" or "r" (default: the first left, the rest right). */
function printTable(header: string[], cells: string[][], align = "l") {
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) =>
    c
      .map((s, i) => ((align[i] ?? "r") === "l" ? s.padEnd(widths[i]) : s.padStart(widths[i])))
      .join("  ")
      .trimEnd();
  console.log(line(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const c of cells) console.log(line(c));
}

function printRows(rows: Row[]) {
  printTable(
    [
      "scenario",
      "requests",
      "conc",
      "p50 ms",
      "p90 ms",
      "p99 ms",
      "mean ms",
      "max ms",
      "req/s",
      "bytes",
      "server CPU ms/req",
      "target",
    ],
    rows.map((r) => [
      r.scenario,
      String(r.requests),
      String(r.concurrency),
      f1(r.p50Ms),
      f1(r.p90Ms),
      f1(r.p99Ms),
      f1(r.meanMs),
      f1(r.maxMs),
      f1(r.reqPerSec),
      String(r.meanBytes),
      r.serverCpuMsPerReq === null ? "-" : f1(r.serverCpuMsPerReq),
      r.target || "-",
    ]),
    "lrrrrrrrrrrl",
  );
}

// ---- main ----

async function main() {
  assertLocal(baseDbUrl, "PostgreSQL");
  assertLocal(baseRedisUrl, "Redis");
  const buildIdFile = path.join(root, ".next/BUILD_ID");
  if (!fs.existsSync(buildIdFile))
    throw new Error("no production build (.next/BUILD_ID is missing): run `npm run build` first");
  const buildId = fs.readFileSync(buildIdFile, "utf8").trim();
  const manifest = JSON.parse(
    fs.readFileSync(path.join(root, ".next/server/app-paths-manifest.json"), "utf8"),
  ) as Record<string, string>;
  if (!(API_ROUTE in manifest))
    throw new Error(`the production build ${buildId} has no ${API_ROUTE}: rebuild (npm run build) first`);
  const loadBefore = os.loadavg();

  const databaseUrl = await createDatabase();
  progress(`database ${dbName}`);
  await migrate(databaseUrl);
  const redisUrl = await claimRedisDb();
  progress(`Redis db ${services.redisDb}`);

  const pool = new pg.Pool({ connectionString: databaseUrl, max: 4 });
  pool.on("error", () => {});
  state.pool = pool;
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  redis.on("error", () => {});
  state.redis = redis;

  const t0 = performance.now();
  const { userId, cachedKeys } = await seed(pool, redis);
  const counts = await pool.query<{ users: string; quotas: string }>(
    "SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM user_platform_quotas) AS quotas",
  );
  progress(
    `seeded ${counts.rows[0].users} users, ${counts.rows[0].quotas} quota rows and ${cachedKeys} Redis entries ` +
      `in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );

  // The user's session, as createSession() writes it.
  const sessionSecret = randomBytes(32).toString("hex");
  const token = newSessionToken();
  await pool.query(
    "INSERT INTO console_sessions (token_hash, user_id, expires_at) VALUES ($1, $2, now() + interval '1 day')",
    [hashSessionToken(token), userId],
  );
  const cookie = `${SESSION_COOKIE}=${signSessionToken(token, sessionSecret)}`;

  const pgFacts = await pool.query<{ v: string }>("SELECT current_setting('server_version') AS v");
  const redisInfo = await redis.info("server");
  const machine = {
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? "unknown",
    totalMemMiB: Math.round(os.totalmem() / 2 ** 20),
    postgresVersion: pgFacts.rows[0].v,
    redisVersion: /^redis_version:(.*)$/m.exec(redisInfo)?.[1]?.trim() ?? "unknown",
    nextBuildId: buildId,
    loadAvgBefore: loadBefore.map((x) => Number(x.toFixed(2))),
  };

  // The server: production build, our database and Redis db, a fresh secret.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    REDIS_URL: redisUrl,
    SESSION_SECRET: sessionSecret,
    NODE_ENV: "production",
    NEXT_TELEMETRY_DISABLED: "1",
    QUOTA_TIMEZONE: quotaTimeZone,
  };
  for (const k of [
    "PGLITE_DIR",
    "COOKIE_SECURE",
    "ADMIN_EMAIL",
    "ADMIN_PASSWORD",
    "PORT",
    "HOSTNAME",
    "DATABASE_POOL_MAX",
  ])
    delete env[k];
  const profDir = process.env.BENCH_CPU_PROF ? path.resolve(process.env.BENCH_CPU_PROF) : null;
  if (profDir) {
    fs.mkdirSync(profDir, { recursive: true });
    progress(`server CPU profile goes to ${profDir}`);
  }
  const port = await freePort();
  const server = startServer(port, env, profDir ? ["--cpu-prof", `--cpu-prof-dir=${profDir}`] : []);
  state.server = server;
  serverPgid = server.child.pid ?? null;
  const tStart = performance.now();
  const health = (await waitHealthy(server, 60_000)) as { status?: string };
  progress(
    `next start on ${server.base} healthy (${health.status ?? "?"}) after ${((performance.now() - tStart) / 1000).toFixed(1)} s`,
  );
  const ctx: Ctx = { base: server.base, cookie };

  // Which path each item took: checked on the first response of every API run.
  const itemProblems: string[] = [];
  const checkFirstItems = (name: string, r: Run) => {
    if (r.first) for (const p of checkItems(checkApi(r.first))) itemProblems.push(`${name}: ${p}`);
  };
  const apiTarget = (row: Row) => `p99 < ${TARGET_API_P99_MS} ms: ${row.p99Ms < TARGET_API_P99_MS ? "met" : "MISSED"}`;
  const results: Row[] = [];

  // 1. The quota read, 50 concurrent clients, then one.
  const apiCheck = (f: Fetched) => void checkApi(f);
  await warmUp(ctx, API_PATH, API_WARMUP, API_CONCURRENCY, apiCheck);
  const apiConc = await runRequests(ctx, `GET ${API_PATH}`, API_PATH, API_REQUESTS, API_CONCURRENCY, apiCheck);
  checkFirstItems(`concurrency ${API_CONCURRENCY}`, apiConc);
  results.push(summarize(`GET ${API_PATH}`, API_CONCURRENCY, apiConc, apiTarget));
  await warmUp(ctx, API_PATH, API_WARMUP, 1, apiCheck);
  const apiSeq = await runRequests(ctx, `GET ${API_PATH}`, API_PATH, API_SEQ_REQUESTS, 1, apiCheck);
  checkFirstItems("concurrency 1", apiSeq);
  results.push(summarize(`GET ${API_PATH}`, 1, apiSeq, apiTarget));

  //    50 open-loop clients polling every second (10x the dashboard's own 10 s interval).
  const polling = await runPolling(ctx, `GET ${API_PATH}`, API_PATH, API_CONCURRENCY, 1000, 20, apiCheck);
  results.push(
    summarize(`GET ${API_PATH}, ${API_CONCURRENCY} clients polling every 1 s`, API_CONCURRENCY, polling, apiTarget),
  );

  //    Reference: the session check and one user read without the quotas, same concurrency.
  const meCheck = (f: Fetched) => {
    if (!f.body.startsWith('{"code":0')) throw new BenchError(`GET ${ME_PATH}: ${f.body.slice(0, 200)}`);
  };
  await warmUp(ctx, ME_PATH, API_WARMUP, API_CONCURRENCY, meCheck);
  const meConc = await runRequests(ctx, `GET ${ME_PATH} (reference)`, ME_PATH, ME_REQUESTS, API_CONCURRENCY, meCheck);
  results.push(summarize(`GET ${ME_PATH} (reference, no quotas)`, API_CONCURRENCY, meConc));

  // 2. Server render of the dashboard, sequential.
  let cardsSeen: string[] = [];
  const pageCheck = (f: Fetched) => {
    if (!f.body.includes(CARD_MARKER))
      throw new BenchError(`GET ${PAGE_PATH}: 200 but no ${CARD_MARKER} in ${f.bytes} bytes`);
  };
  await warmUp(ctx, PAGE_PATH, PAGE_WARMUP, 1, pageCheck);
  const pageSeq = await runRequests(ctx, `GET ${PAGE_PATH}`, PAGE_PATH, PAGE_REQUESTS, 1, pageCheck);
  if (pageSeq.first) cardsSeen = [...pageSeq.first.body.matchAll(/data-quota-card="([^"]+)"/g)].map((m) => m[1]);
  results.push(summarize(`GET ${PAGE_PATH} (server render)`, 1, pageSeq));
  const loadAfter = os.loadavg();

  // 3. First-load JavaScript.
  progress(`first-load JavaScript of ${PAGE_PATH}`);
  const js = await firstLoadJs(ctx);
  const jsRaw = js.chunks.reduce((s, c) => s + c.rawBytes, 0);
  const jsGzip = js.chunks.reduce((s, c) => s + c.gzipBytes, 0);
  const jsMet = jsGzip / 1000 < TARGET_JS_KB;
  const moduleChunks = js.chunks.filter((c) => c.via !== NOMODULE);
  const jsModuleGzip = moduleChunks.reduce((s, c) => s + c.gzipBytes, 0);
  const jsModuleRaw = moduleChunks.reduce((s, c) => s + c.rawBytes, 0);

  await stopServer(server);
  state.server = null;
  serverPgid = null;
  const serverLog = server.output();
  await pool.end();
  state.pool = null;
  redis.disconnect();
  state.redis = null;

  // ---- output ----
  console.log("");
  printRows(results);
  console.log("");
  console.log("request = fetch() to the last byte of the body (one process, default keep-alive agent)");
  console.log(
    `checked: every ${API_PATH} response 200, code 0, ${MY_QUOTAS.length} items; every ${PAGE_PATH} response 200 with ${CARD_MARKER}`,
  );
  console.log(
    "server CPU = user + system time of the next start process group (/proc) during the scenario, per request",
  );
  console.log(
    `Redis path: ${cachedKeys} of ${MY_QUOTAS.length} platforms cached (${[...CACHED].join(", ")}; usage = row + ${CACHE_BUMP}), ` +
      `the rest from the database — items ${itemProblems.length === 0 ? "all as expected" : `DIFFER (${itemProblems.length})`}`,
  );
  for (const p of itemProblems.slice(0, 10)) console.log(`  ${p}`);
  const expectedCards = CARDS.join(",");
  console.log(
    `dashboard cards in the HTML: ${cardsSeen.join(", ") || "none"}${cardsSeen.join(",") === expectedCards ? " (as expected)" : ` (expected ${CARDS.join(", ")})`}`,
  );
  const conc = results[0];
  console.log(
    `concurrency ${API_CONCURRENCY}: Little's law ${API_CONCURRENCY} / ${f1(conc.reqPerSec)} req/s = ${f1((API_CONCURRENCY / conc.reqPerSec) * 1000)} ms ` +
      `mean in flight (measured ${f1(conc.meanMs)} ms); the server is saturated when CPU ms/req × req/s ≈ 1000 ` +
      `(${conc.serverCpuMsPerReq === null ? "-" : f1(conc.serverCpuMsPerReq * conc.reqPerSec)} ms CPU per s)`,
  );
  console.log("");
  console.log(
    `first-load JS of ${PAGE_PATH}: ${js.chunks.length} chunks, ${kB(jsRaw)} kB raw, ${kB(jsGzip)} kB gzipped (level ${GZIP_LEVEL}); ` +
      `HTML ${kB(js.htmlBytes)} kB raw, ${kB(js.htmlGzipBytes)} kB gzipped`,
  );
  console.log("largest chunks (gzipped):");
  printTable(
    ["  chunk", "via", "raw kB", "gzip kB", "looks like"],
    js.chunks.slice(0, 5).map((c) => [`  ${c.url}`, c.via, kB(c.rawBytes), kB(c.gzipBytes), c.contains]),
    "llrrl",
  );
  if (moduleChunks.length < js.chunks.length) {
    console.log(
      `without the ${js.chunks.length - moduleChunks.length} <script nomodule> chunk(s) (never fetched by browsers that support modules): ` +
        `${moduleChunks.length} chunks, ${kB(jsModuleRaw)} kB raw, ${kB(jsModuleGzip)} kB gzipped`,
    );
  }
  if (js.rscOnly.length > 0) {
    console.log(`chunks named only in the RSC payload (not counted): ${js.rscOnly.join(", ")}`);
  }
  console.log("");
  console.log(
    `machine: node ${machine.node}, ${machine.cpus} cpus (${machine.cpuModel}), ${machine.totalMemMiB} MiB, PostgreSQL ${machine.postgresVersion}, Redis ${machine.redisVersion}, build ${buildId}`,
  );
  console.log(
    `load average before / after the HTTP runs: ${machine.loadAvgBefore.join(" ")} / ${loadAfter.map((x) => x.toFixed(2)).join(" ")}`,
  );
  console.log("");
  console.log(
    `target: ${API_PATH} p99 < ${TARGET_API_P99_MS} ms at concurrency ${API_CONCURRENCY}: ${f1(conc.p99Ms)} ms — ${conc.p99Ms < TARGET_API_P99_MS ? "met" : "MISSED"}`,
  );
  console.log(
    `target: first-load JS of ${PAGE_PATH} < ${TARGET_JS_KB} kB gzipped: ${kB(jsGzip)} kB — ${jsMet ? "met" : "MISSED"}` +
      (moduleChunks.length < js.chunks.length
        ? ` (without <script nomodule>: ${kB(jsModuleGzip)} kB — ${jsModuleGzip / 1000 < TARGET_JS_KB ? "met" : "MISSED"})`
        : ""),
  );

  const finishedAt = new Date();
  const totalSeconds = (performance.now() - started) / 1000;
  const report = {
    finishedAt: finishedAt.toISOString(),
    totalSeconds,
    machine: { ...machine, loadAvgAfter: loadAfter.map((x) => Number(x.toFixed(2))) },
    params: {
      otherUsers: OTHER_USERS,
      users: Number(counts.rows[0].users),
      quotaRows: Number(counts.rows[0].quotas),
      myQuotas: MY_QUOTAS,
      cachedPlatforms: [...CACHED],
      cacheUsageBump: CACHE_BUMP,
      apiWarmup: API_WARMUP,
      apiRequests: API_REQUESTS,
      apiConcurrency: API_CONCURRENCY,
      apiSequentialRequests: API_SEQ_REQUESTS,
      meRequests: ME_REQUESTS,
      pageWarmup: PAGE_WARMUP,
      pageRequests: PAGE_REQUESTS,
      gzipLevel: GZIP_LEVEL,
      quotaTimeZone,
      timing: "fetch() to the last byte of the body",
    },
    targets: {
      apiP99: {
        description: `${API_PATH} p99 < ${TARGET_API_P99_MS} ms at concurrency ${API_CONCURRENCY}`,
        p99Ms: conc.p99Ms,
        met: conc.p99Ms < TARGET_API_P99_MS,
      },
      firstLoadJs: {
        description: `first-load JS of ${PAGE_PATH} < ${TARGET_JS_KB} kB gzipped`,
        gzipKB: jsGzip / 1000,
        met: jsMet,
        withoutNomodule: { gzipKB: jsModuleGzip / 1000, met: jsModuleGzip / 1000 < TARGET_JS_KB },
      },
    },
    results,
    redisPath: { cachedKeys, itemsAsExpected: itemProblems.length === 0, problems: itemProblems },
    dashboardCards: { seen: cardsSeen, expected: CARDS },
    firstLoadJs: {
      chunks: js.chunks,
      rawBytes: jsRaw,
      gzipBytes: jsGzip,
      withoutNomodule: { chunks: moduleChunks.length, rawBytes: jsModuleRaw, gzipBytes: jsModuleGzip },
      rscOnly: js.rscOnly,
      htmlBytes: js.htmlBytes,
      htmlGzipBytes: js.htmlGzipBytes,
    },
    serverLogTail: serverLog.split("\n").slice(-40),
  };
  const dir = path.join(root, "bench-results");
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `dashboard-${finishedAt.toISOString().replace(/[:.]/g, "-")}.json`);
  fs.writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`\nresults: ${path.relative(root, file)}`);
  console.log(`total runtime: ${totalSeconds.toFixed(1)} s`);
}

let failed = false;
try {
  await main();
} catch (e) {
  failed = true;
  // After a signal the handler cleans up and exits 130; the requests it cut off are no failure.
  if (interrupted) await new Promise(() => {});
  console.error(
    `[bench] ${e instanceof BenchError ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
  );
  if (state.server)
    console.error(`[bench] last server output:\n${state.server.output().split("\n").slice(-40).join("\n")}`);
} finally {
  await closeAll();
  await cleanup();
}
process.exit(failed ? 1 : 0);
