import type { BillingRuntime } from "@/lib/billing/runtime";
import { billingKeys } from "@/lib/billing/keys";
import { decodeQuotaEntry } from "@/lib/billing/quota-cache";
import type { QuotaUsageFlusher } from "@/lib/billing/flusher";
import { monthlyWindowExpired } from "@/lib/billing/windows";

/**
 * The gateway simulator's engine (npm run simulate, npm run chaos, tests): open-loop traffic through
 * the real billing chain — per request an eligibility check, then, if allowed, the recording of a
 * random cost — counting EVERY attempted record, and the ledger check afterwards: PostgreSQL's usage
 * grew by exactly the attempted costs, every touched Redis hash equals PostgreSQL (or is absent), and
 * no key went over a cap by more than its in-flight tolerance.
 */
export type TrafficOptions = {
  users: number[];
  platforms: string[];
  rate: number;
  durationSeconds: number;
  costMin: number;
  costMax: number;
  random: () => number;
  maxInflight?: number;
  /** called about every second */
  onTick?: (t: TrafficTick) => void;
  /** called after each scheduled request index (faults are injected from here) */
  onRequest?: (i: number) => void | Promise<void>;
};

export type TrafficTick = { elapsed: number; requests: number; allowed: number; blocked: Record<string, number>; perSecond: number; p50: number; p99: number; attemptedUnits: bigint };

type KeyState = {
  userId: number;
  platform: string;
  /** every attempted record's cost, in 1e-4 USD */
  attempted: bigint;
  records: number;
  /** records not reported `recorded` (refused by the write guard: a user without limits) */
  unrecorded: bigint;
  inflight: number;
  maxInflightAtAllow: number;
  failOpenUnits: bigint;
};

export type TrafficResult = {
  requests: number;
  allowed: number;
  blocked: Record<string, number>;
  bySource: Record<string, number>;
  attemptedUnits: bigint;
  recordedUnits: bigint;
  parked: Record<string, number>;
  skippedNoLimit: number;
  latencies: number[];
  seconds: number;
  keys: Map<string, KeyState>;
  errors: Record<string, number>;
};

export function pct(xs: number[], p: number): number {
  if (xs.length === 0) return 0;
  const s = Float64Array.from(xs).sort();
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

export const UNIT = 10_000;

export async function runTraffic(rt: BillingRuntime, o: TrafficOptions): Promise<TrafficResult> {
  const res: TrafficResult = {
    requests: 0,
    allowed: 0,
    blocked: { daily: 0, weekly: 0, monthly: 0, outage: 0 },
    bySource: {},
    attemptedUnits: 0n,
    recordedUnits: 0n,
    parked: {},
    skippedNoLimit: 0,
    latencies: [],
    seconds: 0,
    keys: new Map(),
    errors: {},
  };
  const keyOf = (u: number, p: string) => {
    const k = `${u}:${p}`;
    let s = res.keys.get(k);
    if (!s) {
      s = { userId: u, platform: p, attempted: 0n, records: 0, unrecorded: 0n, inflight: 0, maxInflightAtAllow: 0, failOpenUnits: 0n };
      res.keys.set(k, s);
    }
    return s;
  };
  for (const u of o.users) for (const p of o.platforms) keyOf(u, p);
  const maxInflight = o.maxInflight ?? 1024;
  let window: number[] = [];
  let windowRequests = 0;
  let inflight = 0;

  const one = async () => {
    const u = o.users[Math.floor(o.random() * o.users.length)];
    const p = o.platforms[Math.floor(o.random() * o.platforms.length)];
    const units = Math.round((o.costMin + o.random() * (o.costMax - o.costMin)) * UNIT);
    const k = keyOf(u, p);
    const t0 = performance.now();
    const d = await rt.service.checkUserPlatformQuotaEligibility(u, p);
    const ms = performance.now() - t0;
    res.latencies.push(ms);
    window.push(ms);
    res.requests++;
    windowRequests++;
    res.bySource[d.source] = (res.bySource[d.source] ?? 0) + 1;
    if (!d.allowed) {
      res.blocked["window" in d.error ? d.error.window : "outage"]++;
      return;
    }
    res.allowed++;
    k.maxInflightAtAllow = Math.max(k.maxInflightAtAllow, k.inflight);
    if (d.source === "fail-open") k.failOpenUnits += BigInt(units);
    k.inflight++;
    // Every allowed request's cost is an attempted record, whatever happens to it.
    k.attempted += BigInt(units);
    k.records++;
    res.attemptedUnits += BigInt(units);
    try {
      const r = await rt.service.recordUsage({ userId: u, platform: p, cost: units / UNIT });
      if (!r.recorded) {
        res.skippedNoLimit++;
        k.unrecorded += BigInt(units);
      } else {
        res.recordedUnits += BigInt(units);
        if (r.parked) res.parked[r.parked] = (res.parked[r.parked] ?? 0) + 1;
      }
    } finally {
      k.inflight--;
    }
  };

  const started = performance.now();
  let scheduled = 0;
  const total = Math.floor(o.durationSeconds * o.rate);
  const pending = new Set<Promise<void>>();
  await new Promise<void>((resolve) => {
    let lastReport = started;
    const timer = setInterval(() => {
      const now = performance.now();
      const elapsed = (now - started) / 1000;
      const due = Math.min(Math.floor(elapsed * o.rate), total);
      while (scheduled < due && inflight < maxInflight) {
        const i = scheduled++;
        inflight++;
        const p = Promise.resolve(o.onRequest?.(i))
          .then(one)
          .catch((e) => void (res.errors[String(e)] = (res.errors[String(e)] ?? 0) + 1))
          .finally(() => {
            inflight--;
            pending.delete(p);
          });
        pending.add(p);
      }
      if (now - lastReport >= 1000) {
        const secs = (now - lastReport) / 1000;
        o.onTick?.({
          elapsed,
          requests: res.requests,
          allowed: res.allowed,
          blocked: res.blocked,
          perSecond: windowRequests / secs,
          p50: pct(window, 50),
          p99: pct(window, 99),
          attemptedUnits: res.attemptedUnits,
        });
        window = [];
        windowRequests = 0;
        lastReport = now;
      }
      if (scheduled >= total) {
        clearInterval(timer);
        resolve();
      }
    }, 10);
  });
  while (pending.size) await Promise.all([...pending]);
  res.seconds = (performance.now() - started) / 1000;
  return res;
}

/** Σ current monthly usage per touched key, in 1e-4 USD (an expired window counts as 0). */
export async function monthlySnapshot(rt: BillingRuntime, keys: Iterable<{ userId: number; platform: string }>, now = Date.now()): Promise<Map<string, bigint>> {
  const list = [...keys];
  const rows = await rt.repo.getMany(list);
  const out = new Map<string, bigint>();
  for (const k of list) {
    const row = rows.get(`${k.userId}:${k.platform}`);
    const live = row && !monthlyWindowExpired(row.monthlyWindowStart, now);
    out.set(`${k.userId}:${k.platform}`, live ? BigInt(Math.round(row.monthlyUsage * UNIT)) : 0n);
  }
  return out;
}

/** Let everything in flight finish: parked ops written, outbox drained, the flusher's last flush. */
export async function quiesce(rt: BillingRuntime, flusher: QuotaUsageFlusher | null, timeoutMs = 120_000): Promise<{ ok: boolean; left: { journal: number; memory: number; outbox: number } }> {
  const deadline = Date.now() + timeoutMs;
  let left = { journal: 0, memory: 0, outbox: 0 };
  await rt.service.ledger.drain();
  for (;;) {
    await rt.repairer.runOnce();
    await rt.repairer.verifyAllNow().catch(() => 0);
    if (flusher) await flusher.flush().catch(() => {});
    left = await rt.repairer.backlog().catch(() => ({ journal: -1, memory: -1, outbox: -1 }));
    const dirty = rt.redis ? await rt.redis.scard(billingKeys.dirtySet).catch(() => -1) : 0;
    if (left.journal === 0 && left.memory === 0 && left.outbox === 0 && (!flusher || dirty === 0)) return { ok: true, left };
    if (Date.now() > deadline) return { ok: false, left };
    // Outbox rows wait for their second pass: make them due now, the work is idempotent.
    await rt.pool.query("UPDATE cache_invalidation_outbox SET next_attempt_at = now() WHERE next_attempt_at > now()").catch(() => {});
    await new Promise((r) => setTimeout(r, 200));
  }
}

export type LedgerReport = {
  keys: number;
  attemptedUsd: number;
  postgresDeltaUsd: number;
  /** keys whose PostgreSQL usage grew by less than their attempted records (lost), or more (counted twice) */
  lost: Array<{ key: string; missingUsd: number }>;
  doubled: Array<{ key: string; extraUsd: number }>;
  /** keys whose Redis hash differs from PostgreSQL in a window both agree on */
  drift: Array<{ key: string; redis: string; postgres: string }>;
  /** keys that went over a cap by more than their in-flight tolerance */
  overCap: Array<{ key: string; window: string; usage: number; limit: number; toleranceUsd: number }>;
};

/**
 * The ledger check after quiescing: per touched key, PostgreSQL Δ (monthly window) = attempted −
 * refused-by-the-write-guard; Redis = PostgreSQL where both have the window; usage ≤ limit + the
 * in-flight tolerance ((1 + the most allowed-but-unrecorded requests seen at an allow) × the largest
 * cost, plus whatever fail-open let through).
 */
export async function checkLedger(rt: BillingRuntime, before: Map<string, bigint>, res: TrafficResult, costMax: number, now = Date.now()): Promise<LedgerReport> {
  const after = await monthlySnapshot(rt, res.keys.values(), now);
  const rows = await rt.repo.getMany([...res.keys.values()]);
  const report: LedgerReport = { keys: res.keys.size, attemptedUsd: 0, postgresDeltaUsd: 0, lost: [], doubled: [], drift: [], overCap: [] };
  let attempted = 0n;
  let delta = 0n;
  for (const [key, k] of res.keys) {
    const expected = k.attempted - k.unrecorded;
    const d = (after.get(key) ?? 0n) - (before.get(key) ?? 0n);
    attempted += expected;
    delta += d;
    if (d < expected) report.lost.push({ key, missingUsd: Number(expected - d) / UNIT });
    if (d > expected) report.doubled.push({ key, extraUsd: Number(d - expected) / UNIT });
    const row = rows.get(key);
    if (rt.redis && row) {
      const e = decodeQuotaEntry(await rt.redis.hgetall(billingKeys.userPlatformQuota(k.userId, k.platform)));
      if (e && e.schemaVersion === 1 && (e.dailyLimit !== null || e.weeklyLimit !== null || e.monthlyLimit !== null)) {
        const differs = (a: number, b: number, sa: number | null, sb: number | null) => sa !== null && sa === sb && Math.abs(a - b) > 1e-7;
        if (
          differs(e.dailyUsage, row.dailyUsage, e.dailyWindowStart, row.dailyWindowStart) ||
          differs(e.weeklyUsage, row.weeklyUsage, e.weeklyWindowStart, row.weeklyWindowStart) ||
          differs(e.monthlyUsage, row.monthlyUsage, e.monthlyWindowStart, row.monthlyWindowStart)
        ) {
          report.drift.push({ key, redis: `${e.dailyUsage}/${e.weeklyUsage}/${e.monthlyUsage}`, postgres: `${row.dailyUsage}/${row.weeklyUsage}/${row.monthlyUsage}` });
        }
      }
    }
    if (row) {
      const tolerance = (1 + k.maxInflightAtAllow) * costMax + Number(k.failOpenUnits) / UNIT;
      const sod = rt.clock.startOfDay(now);
      const checks: Array<[string, number | null, number, boolean]> = [
        ["daily", row.dailyLimit, row.dailyUsage, row.dailyWindowStart === sod],
        ["monthly", row.monthlyLimit, row.monthlyUsage, !monthlyWindowExpired(row.monthlyWindowStart, now)],
      ];
      for (const [w, limit, usage, live] of checks) {
        if (limit !== null && live && usage > limit + tolerance + 1e-9) report.overCap.push({ key, window: w, usage, limit, toleranceUsd: tolerance });
      }
    }
  }
  report.attemptedUsd = Number(attempted) / UNIT;
  report.postgresDeltaUsd = Number(delta) / UNIT;
  return report;
}
