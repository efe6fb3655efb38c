import pg from "pg";

import type { QuotaUsageFlusher } from "@/lib/billing/flusher";
import { ledgerKeys } from "@/lib/billing/keys";
import { createBillingRuntime, type BillingRuntime } from "@/lib/billing/runtime";

import { redisCommand } from "../faults";
import { prng } from "../prng";
import {
  checkLedger,
  exactMonthlySnapshot,
  quiesce,
  readUnflushed,
  runTraffic,
  type LedgerReport,
  type QuiesceLeft,
  type TrafficControl,
  type TrafficResult,
  type UnflushedSnapshot,
} from "../traffic";
import { SCENARIOS, type Mode, type Scenario, type ScenarioCtx } from "./scenarios";
import { ChaosServices, FlusherProcess, type ChaosDb, type DbService } from "./services";

/**
 * The chaos engine: scenarios × modes × databases, each run on fresh users through a real billing
 * runtime (the gateway process) with its repairer, traffic from scripts/lib/traffic.ts, the fault of
 * the scenario injected at fixed points, then quiesce and the ledger check. Invariants per run:
 *
 *   (a) exact   PostgreSQL's monthly usage grew by exactly the attempted costs, per key, to the 10th
 *               decimal (over all of the key's rows: an admin may remove and re-add a platform)
 *   (b) drift   every touched key: Redis = PostgreSQL in the windows both have, or the hash is absent
 *   (c) cap     no key over a cap by more than (1 + max allowed-but-unrecorded requests at an allow) ×
 *               max cost + what fail-open let through (scripts/lib/traffic.ts, checkLedger)
 *   (d) quiet   quiesce finished: no journal entry, op in memory, outbox row, unverified rebuild, dirty
 *               member or member held by a flusher left
 */
export const COST_MIN = 0.01;
export const COST_MAX = 0.5;
export const PLATFORMS = ["anthropic", "openai", "gemini"];
const USERS = 6;

export type RunResult = {
  scenario: string;
  mode: Mode;
  db: ChaosDb;
  status: "ran" | "n/a" | "skipped" | "error";
  reason?: string;
  requests: number;
  allowed: number;
  blocked: number;
  attemptedUsd: number;
  postgresDeltaUsd: number;
  lost: LedgerReport["lost"];
  doubled: LedgerReport["doubled"];
  drift: LedgerReport["drift"];
  overCap: LedgerReport["overCap"];
  quiesced: boolean;
  left: QuiesceLeft | null;
  parked: Record<string, number>;
  failOpen: number;
  seconds: number;
  quiesceSeconds: number;
  invariants: { exact: boolean; drift: boolean; cap: boolean; quiet: boolean };
  ok: boolean;
  notes: string[];
  alerts: Record<string, number>;
};

export type ChaosOptions = {
  quick: boolean;
  only?: string[];
  modes: Mode[];
  dbs: ChaosDb[];
  log: (m: string) => void;
  /** called after each run (progress) */
  onResult?: (r: RunResult) => void;
};

/** Traffic shape per database and length: PGlite is one session, so it gets a lower rate. */
function shape(db: ChaosDb, quick: boolean) {
  const rate = db === "pglite" ? (quick ? 30 : 40) : quick ? 120 : 150;
  const duration = quick ? 2.5 : 12;
  const faultAt = quick ? 0.7 : 3;
  // The tight daily cap: about a third of what the key would spend over the run uncapped (rate / keys
  // × mean cost × duration), at most $2 — so it is reached early and then enforced for most of the run.
  const perKey = (rate / (USERS * PLATFORMS.length)) * ((COST_MIN + COST_MAX) / 2) * duration;
  const tightDaily = Math.min(2, Math.max(0.2, Math.round((perKey / 3) * 100) / 100));
  return { rate, duration, faultAt, tightDaily };
}

/** --quick runs only these on PGlite (one session, slower), unless the PGlite runs are asked for by name. */
export const QUICK_PGLITE = ["admin-saves", "pg-pause", "malformed"];

export function scenarioNames(): string[] {
  return SCENARIOS.map((s) => s.name);
}

/** Which runs the options select, in order (scenario-major), with n/a reasons. */
export function plan(
  o: Pick<ChaosOptions, "only" | "modes" | "dbs" | "quick">,
): Array<{ s: Scenario; mode: Mode; db: ChaosDb; na: string | null; skip: string | null }> {
  const out: Array<{ s: Scenario; mode: Mode; db: ChaosDb; na: string | null; skip: string | null }> = [];
  for (const s of SCENARIOS) {
    if (o.only && !o.only.includes(s.name)) continue;
    for (const db of o.dbs) {
      for (const mode of o.modes) {
        const skip =
          o.quick && db === "pglite" && !o.only && o.dbs.length > 1 && !QUICK_PGLITE.includes(s.name)
            ? `--quick runs only ${QUICK_PGLITE.join(", ")} on PGlite`
            : null;
        out.push({ s, mode, db, na: s.na?.(mode, db) ?? null, skip });
      }
    }
  }
  return out;
}

export async function runChaos(o: ChaosOptions, services: ChaosServices): Promise<RunResult[]> {
  const results: RunResult[] = [];
  let seq = 0;
  for (const { s, mode, db, na, skip } of plan(o)) {
    seq++;
    let r: RunResult;
    if (na) r = empty(s.name, mode, db, "n/a", na);
    else if (skip) r = empty(s.name, mode, db, "skipped", skip);
    else {
      o.log(`── ${s.name} · ${mode} · ${db}: ${s.title}`);
      try {
        r = await runOne(s, mode, services.dbs.get(db)!, services, o.quick, seq);
      } catch (e) {
        r = empty(s.name, mode, db, "error", e instanceof Error ? (e.stack ?? e.message) : String(e));
      }
    }
    results.push(r);
    o.onResult?.(r);
  }
  return results;
}

function empty(
  scenario: string,
  mode: Mode,
  db: ChaosDb,
  status: "n/a" | "skipped" | "error",
  reason: string,
): RunResult {
  return {
    scenario,
    mode,
    db,
    status,
    reason,
    requests: 0,
    allowed: 0,
    blocked: 0,
    attemptedUsd: 0,
    postgresDeltaUsd: 0,
    lost: [],
    doubled: [],
    drift: [],
    overCap: [],
    quiesced: false,
    left: null,
    parked: {},
    failOpen: 0,
    seconds: 0,
    quiesceSeconds: 0,
    invariants: { exact: false, drift: false, cap: false, quiet: false },
    ok: status !== "error",
    notes: [],
    alerts: {},
  };
}

async function adminQuery(url: string, sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  c.on("error", () => {});
  await c.connect();
  try {
    return await c.query(sql, params);
  } finally {
    await c.end().catch(() => {});
  }
}

/** Fresh users (password hash "!" never verifies) with quota rows; returns their ids. */
async function createUsers(
  rt: BillingRuntime,
  tag: string,
  n: number,
  limits: (i: number, platform: string) => { daily: number | null; weekly: number | null; monthly: number | null },
): Promise<number[]> {
  const { rows } = await rt.pool.query<{ id: string }>(
    `INSERT INTO users (email, password_hash, signup_source)
     SELECT 'chaos-' || $1::text || '-' || g || '@chaos.invalid', '!', 'email' FROM generate_series(1, $2::int) g RETURNING id`,
    [tag, n],
  );
  const ids = rows.map((r) => Number(r.id)).sort((a, b) => a - b);
  for (const [i, id] of ids.entries())
    await rt.repo.upsertForUser(
      id,
      PLATFORMS.map((platform) => ({ platform, limits: limits(i, platform) })),
    );
  return ids;
}

async function runOne(
  s: Scenario,
  mode: Mode,
  db: DbService,
  services: ChaosServices,
  quick: boolean,
  seq: number,
): Promise<RunResult> {
  const started = performance.now();
  const { rate, duration, faultAt, tightDaily } = shape(db.db, quick);
  const flusherMode = mode === "flusher";
  // A clean slate: the private Redis emptied, no outbox row of an earlier run left.
  await redisCommand(services.redis.port, ["FLUSHALL"], 5000);
  await adminQuery(db.url, "DELETE FROM cache_invalidation_outbox");

  const alerts: Record<string, number> = {};
  const count = (m: string) => void (alerts[m] = (alerts[m] ?? 0) + 1);
  const rt = createBillingRuntime({
    databaseUrl: db.url,
    redisUrl: services.redis.url(),
    config: { flusherEnabled: flusherMode },
    repair: true,
    logger: { warn: count, error: count },
  });
  const notes: string[] = [];
  const undo: Array<() => unknown> = [];
  const flushers: { inprocess: QuotaUsageFlusher | null; child: FlusherProcess | null } = {
    inprocess: null,
    child: null,
  };
  let closed = false;
  const closeAll = async () => {
    if (closed) return;
    closed = true;
    for (const u of undo.reverse())
      await Promise.resolve()
        .then(u)
        .catch(() => {});
    await flushers.inprocess?.stop().catch(() => {});
    await flushers.child?.kill().catch(() => {});
    await rt.close().catch(() => {});
  };
  services.onStop(closeAll);
  try {
    const tag = `${Date.now().toString(36)}-${seq}`;
    const users = await createUsers(rt, tag, USERS, (i, platform) =>
      i === 0 && platform === PLATFORMS[0]
        ? { daily: tightDaily, weekly: 1_000_000, monthly: 1_000_000 }
        : { daily: 1_000_000, weekly: 1_000_000, monthly: 1_000_000 },
    );
    const extraN = s.extraUsers?.(db.db, quick) ?? 0;
    const extra =
      extraN > 0
        ? await createUsers(rt, `${tag}-x`, extraN, () => ({ daily: 1_000_000, weekly: 1_000_000, monthly: 1_000_000 }))
        : [];
    const keys = [...users, ...extra].flatMap((userId) => PLATFORMS.map((platform) => ({ userId, platform })));
    const before = await exactMonthlySnapshot(rt, keys);

    // Flusher mode: the flusher(s) the scenario asks for.
    const childEnv = { databaseUrl: db.url, redisUrl: services.redis.url(), intervalMs: 200 };
    if (flusherMode) {
      if (s.flusher === "child" || s.flusher === "child+inprocess")
        flushers.child = await FlusherProcess.start(childEnv);
      if (s.flusher !== "child") {
        flushers.inprocess = rt.flusher({ intervalMs: 200 });
        flushers.inprocess.start();
      }
    }

    let t0 = 0;
    let ctl: TrafficControl | null = null;
    let unflushed: UnflushedSnapshot | undefined;
    const ctx: ScenarioCtx = {
      rt,
      mode,
      db,
      services,
      quick,
      users,
      platforms: PLATFORMS,
      tight: { userId: users[0], platform: PLATFORMS[0], daily: tightDaily },
      extra,
      duration,
      faultAt,
      at: (t) => new Promise((r) => setTimeout(r, Math.max(0, t0 + t * 1000 - performance.now()))),
      ctl: () => ctl!,
      markUnflushed: async () => {
        if (flusherMode) unflushed = await readUnflushed(rt, ctl!.keys());
      },
      undo: (fn) => void undo.push(fn),
      note: (m) => void notes.push(m),
      random: prng(seq * 7919 + 17),
    };
    let scenarioDone: Promise<void> = Promise.resolve();
    let scenarioError: unknown = null;
    const traffic: TrafficResult = await runTraffic(rt, {
      users,
      platforms: PLATFORMS,
      rate,
      durationSeconds: duration,
      costMin: COST_MIN,
      costMax: COST_MAX,
      random: prng(seq * 104_729 + 3),
      onStart: (c) => {
        ctl = c;
        t0 = performance.now();
        scenarioDone = (s.name === "flusher-kill" ? flusherKill(ctx, flushers, childEnv) : s.run(ctx)).catch(
          (e) => void (scenarioError = e),
        );
      },
    });
    await scenarioDone;
    // Undo whatever fault is still active (a scenario that failed half-way).
    for (const u of undo.splice(0).reverse())
      await Promise.resolve()
        .then(u)
        .catch(() => {});
    if (scenarioError) notes.push(`scenario error: ${String(scenarioError)}`);

    // Stop the traffic-time flushers (the worker's SIGTERM = its last flush), then quiesce with a
    // fresh flusher — the next one to run — which must find everything, a killed flusher's members too.
    await flushers.inprocess?.stop();
    flushers.inprocess = null;
    if (flushers.child) {
      await flushers.child.stop();
      flushers.child = null;
    }
    const q0 = performance.now();
    const final = flusherMode ? rt.flusher({ intervalMs: 200 }) : null;
    const settled = await quiesce(rt, final, quick ? 60_000 : 120_000);
    await final?.stop();
    const quiesceSeconds = (performance.now() - q0) / 1000;
    const report = await checkLedger(rt, before, traffic, COST_MAX, Date.now(), { exact: true, unflushed });
    const invariants = {
      exact: report.lost.length === 0 && report.doubled.length === 0,
      drift: report.drift.length === 0,
      cap: report.overCap.length === 0,
      quiet: settled.ok,
    };
    const blocked = Object.values(traffic.blocked).reduce((a, b) => a + b, 0);
    if (traffic.allowed + blocked !== traffic.requests)
      notes.push(`requests ${traffic.requests} ≠ allowed ${traffic.allowed} + blocked ${blocked}`);
    if (Object.keys(traffic.errors).length) notes.push(`traffic errors: ${JSON.stringify(traffic.errors)}`);
    if (traffic.blocked.daily === 0) notes.push("the tight daily cap never blocked");
    const ok =
      invariants.exact &&
      invariants.drift &&
      invariants.cap &&
      invariants.quiet &&
      traffic.allowed + blocked === traffic.requests &&
      !scenarioError &&
      Object.keys(traffic.errors).length === 0;
    return {
      scenario: s.name,
      mode,
      db: db.db,
      status: "ran",
      requests: traffic.requests,
      allowed: traffic.allowed,
      blocked,
      attemptedUsd: report.attemptedUsd,
      postgresDeltaUsd: report.postgresDeltaUsd,
      lost: report.lost,
      doubled: report.doubled,
      drift: report.drift,
      overCap: report.overCap,
      quiesced: settled.ok,
      left: settled.left,
      parked: traffic.parked,
      failOpen: traffic.bySource["fail-open"] ?? 0,
      seconds: (performance.now() - started) / 1000,
      quiesceSeconds,
      invariants,
      ok,
      notes,
      alerts,
    };
  } finally {
    await closeAll();
  }
}

/** flusher-kill: the worker process flushes, is SIGKILLed mid-run, and a new one starts 2 s later. */
async function flusherKill(
  ctx: ScenarioCtx,
  flushers: { child: FlusherProcess | null },
  env: { databaseUrl: string; redisUrl: string; intervalMs: number },
): Promise<void> {
  await ctx.at(ctx.faultAt);
  // Kill it mid-flush if we can catch it: while its processing set holds popped, uncommitted members.
  const child = flushers.child;
  let caught = false;
  if (child && ctx.rt.redis) {
    const deadline = performance.now() + 1500;
    while (!caught && performance.now() < deadline) {
      const ids = (await ctx.rt.redis.smembers(ledgerKeys.flushers).catch(() => [] as string[])).filter((id) =>
        id.startsWith(`${child.pid}-`),
      );
      for (const id of ids) if ((await ctx.rt.redis.scard(ledgerKeys.flushing(id)).catch(() => 0)) > 0) caught = true;
      if (!caught) await new Promise((r) => setTimeout(r, 1));
    }
  }
  await child?.kill();
  ctx.note(`flusher SIGKILLed ${caught ? "while it held popped, uncommitted members" : "between flushes"}`);
  flushers.child = null;
  await ctx.at(ctx.faultAt + (ctx.quick ? 1 : 2));
  flushers.child = await FlusherProcess.start(env);
}
