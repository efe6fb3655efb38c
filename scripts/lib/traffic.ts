import type { QuotaUsageFlusher } from "@/lib/billing/flusher";
import { billingKeys, ledgerKeys } from "@/lib/billing/keys";
import { decodeQuotaEntry } from "@/lib/billing/quota-cache";
import type { BillingRuntime } from "@/lib/billing/runtime";
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
  /**
   * called once when the traffic starts, with a handle that plays extra requests (a burst on given
   * keys, e.g. many checks on cold keys at once) through the same chain and into the same counts;
   * runTraffic waits for them before it returns
   */
  onStart?: (ctl: TrafficControl) => void;
};

export type TrafficControl = {
  /** One more request (check, then — if allowed — a record) on this key, or on a random one. */
  request(userId?: number, platform?: string): Promise<void>;
  /** the per-key state so far (every key of the run exists from the start) */
  keys(): Iterable<KeyState>;
};

export type TrafficTick = {
  elapsed: number;
  requests: number;
  allowed: number;
  blocked: Record<string, number>;
  perSecond: number;
  p50: number;
  p99: number;
  attemptedUnits: bigint;
};

export type KeyState = {
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
  /** Date.now() of the last allow decided from PostgreSQL because Redis failed (source database-no-cache) */
  lastNoCacheAllowAt: number;
  /** records whose Redis increment applied: when the record returned, and its cost (1e-4 USD) */
  applied: Array<{ at: number; units: number }>;
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
      s = {
        userId: u,
        platform: p,
        attempted: 0n,
        records: 0,
        unrecorded: 0n,
        inflight: 0,
        maxInflightAtAllow: 0,
        failOpenUnits: 0n,
        lastNoCacheAllowAt: 0,
        applied: [],
      };
      res.keys.set(k, s);
    }
    return s;
  };
  for (const u of o.users) for (const p of o.platforms) keyOf(u, p);
  const maxInflight = o.maxInflight ?? 1024;
  let window: number[] = [];
  let windowRequests = 0;
  let inflight = 0;

  const one = async (user?: number, platform?: string) => {
    const u = user ?? o.users[Math.floor(o.random() * o.users.length)];
    const p = platform ?? o.platforms[Math.floor(o.random() * o.platforms.length)];
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
      res.blocked[d.kind === "quota-exhausted" ? d.error.window : "outage"]++;
      return;
    }
    res.allowed++;
    k.maxInflightAtAllow = Math.max(k.maxInflightAtAllow, k.inflight);
    if (d.source === "fail-open") k.failOpenUnits += BigInt(units);
    if (d.source === "database-no-cache") k.lastNoCacheAllowAt = Date.now();
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
        if (r.cacheApplied) k.applied.push({ at: Date.now(), units });
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
  const track = (p: Promise<void>) => {
    const q = p
      .catch((e) => void (res.errors[String(e)] = (res.errors[String(e)] ?? 0) + 1))
      .finally(() => pending.delete(q));
    pending.add(q);
    return q;
  };
  o.onStart?.({ request: (u, p) => track(one(u, p)), keys: () => res.keys.values() });
  await new Promise<void>((resolve) => {
    let lastReport = started;
    const timer = setInterval(() => {
      const now = performance.now();
      const elapsed = (now - started) / 1000;
      const due = Math.min(Math.floor(elapsed * o.rate), total);
      while (scheduled < due && inflight < maxInflight) {
        const i = scheduled++;
        inflight++;
        void track(
          Promise.resolve(o.onRequest?.(i))
            .then(() => one())
            .finally(() => {
              inflight--;
            }),
        );
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
export async function monthlySnapshot(
  rt: BillingRuntime,
  keys: Iterable<{ userId: number; platform: string }>,
  now = Date.now(),
): Promise<Map<string, bigint>> {
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

/** 1e-10 USD: the scale of the usage columns (numeric(…, 10)), for exact comparisons. */
export const EXACT_UNIT = 10_000_000_000n;

/** A numeric's text ("12.3400000000", "-0.5") as an integer of 1e-10 USD, exactly. */
export function numericToExact(text: string): bigint {
  const m = /^(-?)(\d*)(?:\.(\d*))?$/.exec(text.trim());
  if (!m) throw new Error(`not a numeric: ${JSON.stringify(text)}`);
  const frac = (m[3] ?? "").padEnd(10, "0");
  if (frac.length > 10 && /[1-9]/.test(frac.slice(10))) throw new Error(`more than 10 decimals: ${text}`);
  const v = BigInt(m[2] || "0") * EXACT_UNIT + BigInt(frac.slice(0, 10) || "0");
  return m[1] ? -v : v;
}

/**
 * Σ monthly usage per touched key over ALL its rows — the active one and any an admin soft-deleted
 * meanwhile (removing a platform keeps that row's usage on it; re-adding it starts a new row) — read
 * as numeric text, exactly, in 1e-10 USD. An expired monthly window counts as 0.
 */
export async function exactMonthlySnapshot(
  rt: BillingRuntime,
  keys: Iterable<{ userId: number; platform: string }>,
  now = Date.now(),
): Promise<Map<string, bigint>> {
  const list = [...keys];
  const out = new Map<string, bigint>(list.map((k) => [`${k.userId}:${k.platform}`, 0n]));
  if (list.length === 0) return out;
  const { rows } = await rt.pool.query<{ user_id: string; platform: string; mu: string; ms: Date | null }>(
    `SELECT user_id, platform, monthly_usage_usd::text AS mu, monthly_window_start AS ms FROM user_platform_quotas
     WHERE (user_id, platform) IN (SELECT * FROM unnest($1::bigint[], $2::text[]))`,
    [list.map((k) => k.userId), list.map((k) => k.platform)],
  );
  for (const r of rows) {
    if (monthlyWindowExpired(r.ms === null ? null : r.ms.getTime(), now)) continue;
    const key = `${r.user_id}:${r.platform}`;
    out.set(key, (out.get(key) ?? 0n) + numericToExact(r.mu));
  }
  return out;
}

export type QuiesceLeft = {
  journal: number;
  memory: number;
  outbox: number;
  /** members in the dirty set (counted only with a flusher) */
  dirty?: number;
  /** members popped by a flusher and not committed yet (a killed flusher's, until recovered) */
  flushing?: number;
  /** rebuilt hashes still to verify against PostgreSQL (direct mode) */
  verifications?: number;
};

/**
 * Let everything in flight finish: parked ops written, outbox drained (second passes made due now),
 * rebuilds verified, the flusher's last flush — and, with a flusher, nothing left in the dirty set or
 * in any flusher's processing set (a killed flusher's members come back once its heartbeat expired).
 */
export async function quiesce(
  rt: BillingRuntime,
  flusher: QuotaUsageFlusher | null,
  timeoutMs = 120_000,
): Promise<{ ok: boolean; left: QuiesceLeft }> {
  const deadline = Date.now() + timeoutMs;
  let left: QuiesceLeft = { journal: 0, memory: 0, outbox: 0 };
  await rt.service.ledger.drain();
  for (;;) {
    await rt.repairer.runOnce();
    await rt.repairer.verifyAllNow().catch(() => 0);
    if (flusher) await flusher.flush().catch(() => {});
    left = await rt.repairer.backlog().catch(() => ({ journal: -1, memory: -1, outbox: -1 }));
    left.verifications = rt.repairer.pendingVerifications();
    if (flusher && rt.redis) {
      left.dirty = await rt.redis.scard(billingKeys.dirtySet).catch(() => -1);
      left.flushing = await flushingMembers(rt).catch(() => -1);
    }
    const busy =
      left.journal !== 0 ||
      left.memory !== 0 ||
      left.outbox !== 0 ||
      left.verifications !== 0 ||
      (flusher && (left.dirty !== 0 || left.flushing !== 0));
    if (!busy) return { ok: true, left };
    if (Date.now() > deadline) return { ok: false, left };
    // Outbox rows wait for their second pass: make them due now, the work is idempotent.
    await rt.pool
      .query("UPDATE cache_invalidation_outbox SET next_attempt_at = now() WHERE next_attempt_at > now()")
      .catch(() => {});
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Members held in the processing sets of every registered flusher. */
async function flushingMembers(rt: BillingRuntime): Promise<number> {
  if (!rt.redis) return 0;
  const ids = await rt.redis.smembers(ledgerKeys.flushers);
  let n = 0;
  for (const id of ids) n += await rt.redis.scard(ledgerKeys.flushing(id));
  return n;
}

/**
 * Flusher mode, taken right before Redis is made unreachable (readUnflushed): per key, how much usage
 * Redis held that PostgreSQL did not. While Redis is away a check decides from the row plus the costs
 * waiting in the outbox (lib/billing/decision.ts withPendingCosts) and cannot see that usage — the
 * documented lag of docs/consistency.md §5, which the cap invariant must allow and nothing more.
 */
export type UnflushedSnapshot = { at: number; usd: Map<string, number> };

/**
 * The part of a key's tolerance that comes from deciding without Redis in flusher mode: if the key
 * had such an allow after the snapshot, the usage unflushed at the snapshot plus every cost applied
 * to Redis from the snapshot until that allow (a flush in between only makes the real lag smaller).
 */
function unflushedTolerance(k: KeyState, key: string, snap: UnflushedSnapshot | undefined): number {
  if (!snap || k.lastNoCacheAllowAt < snap.at) return 0;
  let units = 0;
  for (const a of k.applied) if (a.at >= snap.at && a.at <= k.lastNoCacheAllowAt) units += a.units;
  return (snap.usd.get(key) ?? 0) + units / UNIT;
}

/**
 * Read the snapshot: PostgreSQL first, then Redis, so a flush between the two reads can only make
 * the difference larger than the truth, never smaller. Per key the largest window difference.
 */
export async function readUnflushed(rt: BillingRuntime, keys: Iterable<KeyState>): Promise<UnflushedSnapshot> {
  const at = Date.now();
  const list = [...keys];
  const rows = await rt.repo.getMany(list.map((k) => ({ userId: k.userId, platform: k.platform })));
  const usd = new Map<string, number>();
  if (!rt.redis) return { at, usd };
  const p = rt.redis.pipeline();
  for (const k of list) p.hgetall(billingKeys.userPlatformQuota(k.userId, k.platform));
  const replies = (await p.exec()) ?? [];
  list.forEach((k, i) => {
    const key = `${k.userId}:${k.platform}`;
    const e = decodeQuotaEntry((replies[i]?.[1] ?? {}) as Record<string, string>);
    const row = rows.get(key);
    if (!e) return;
    const pg = row ?? { dailyUsage: 0, weeklyUsage: 0, monthlyUsage: 0 };
    usd.set(
      key,
      Math.max(0, e.dailyUsage - pg.dailyUsage, e.weeklyUsage - pg.weeklyUsage, e.monthlyUsage - pg.monthlyUsage),
    );
  });
  return { at, usd };
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
 * refused-by-the-write-guard; Redis = PostgreSQL where both have the window (a hash left malformed
 * counts as drift); usage ≤ limit + the in-flight tolerance ((1 + the most allowed-but-unrecorded
 * requests seen at an allow) × the largest cost, plus whatever fail-open let through) in every live
 * window. With `exact`, `before` comes from exactMonthlySnapshot and Δ is compared to the last of
 * the 10 stored decimals over all of a key's rows (the chaos suite).
 */
export async function checkLedger(
  rt: BillingRuntime,
  before: Map<string, bigint>,
  res: TrafficResult,
  costMax: number,
  now = Date.now(),
  opts: { exact?: boolean; unflushed?: UnflushedSnapshot } = {},
): Promise<LedgerReport> {
  const scale = opts.exact ? EXACT_UNIT / BigInt(UNIT) : 1n;
  const perUsd = Number(scale) * UNIT;
  const after = opts.exact
    ? await exactMonthlySnapshot(rt, res.keys.values(), now)
    : await monthlySnapshot(rt, res.keys.values(), now);
  const rows = await rt.repo.getMany([...res.keys.values()]);
  const report: LedgerReport = {
    keys: res.keys.size,
    attemptedUsd: 0,
    postgresDeltaUsd: 0,
    lost: [],
    doubled: [],
    drift: [],
    overCap: [],
  };
  let attempted = 0n;
  let delta = 0n;
  for (const [key, k] of res.keys) {
    const expected = (k.attempted - k.unrecorded) * scale;
    const d = (after.get(key) ?? 0n) - (before.get(key) ?? 0n);
    attempted += expected;
    delta += d;
    if (d < expected) report.lost.push({ key, missingUsd: Number(expected - d) / perUsd });
    if (d > expected) report.doubled.push({ key, extraUsd: Number(d - expected) / perUsd });
    const row = rows.get(key);
    if (rt.redis && row) {
      const e = decodeQuotaEntry(await rt.redis.hgetall(billingKeys.userPlatformQuota(k.userId, k.platform)));
      if (e?.malformed)
        report.drift.push({
          key,
          redis: `malformed ${e.malformed.join(",")}`,
          postgres: `${row.dailyUsage}/${row.weeklyUsage}/${row.monthlyUsage}`,
        });
      else if (
        e &&
        e.schemaVersion === 1 &&
        (e.dailyLimit !== null || e.weeklyLimit !== null || e.monthlyLimit !== null)
      ) {
        const differs = (a: number, b: number, sa: number | null, sb: number | null) =>
          sa !== null && sa === sb && Math.abs(a - b) > 1e-7;
        if (
          differs(e.dailyUsage, row.dailyUsage, e.dailyWindowStart, row.dailyWindowStart) ||
          differs(e.weeklyUsage, row.weeklyUsage, e.weeklyWindowStart, row.weeklyWindowStart) ||
          differs(e.monthlyUsage, row.monthlyUsage, e.monthlyWindowStart, row.monthlyWindowStart)
        ) {
          report.drift.push({
            key,
            redis: `${e.dailyUsage}/${e.weeklyUsage}/${e.monthlyUsage}`,
            postgres: `${row.dailyUsage}/${row.weeklyUsage}/${row.monthlyUsage}`,
          });
        }
      }
    }
    if (row) {
      const tolerance =
        (1 + k.maxInflightAtAllow) * costMax +
        Number(k.failOpenUnits) / UNIT +
        unflushedTolerance(k, key, opts.unflushed);
      const checks: Array<[string, number | null, number, boolean]> = [
        ["daily", row.dailyLimit, row.dailyUsage, row.dailyWindowStart === rt.clock.startOfDay(now)],
        ["weekly", row.weeklyLimit, row.weeklyUsage, row.weeklyWindowStart === rt.clock.startOfWeek(now)],
        ["monthly", row.monthlyLimit, row.monthlyUsage, !monthlyWindowExpired(row.monthlyWindowStart, now)],
      ];
      for (const [w, limit, usage, live] of checks) {
        if (limit !== null && live && usage > limit + tolerance + 1e-9)
          report.overCap.push({ key, window: w, usage, limit, toleranceUsd: tolerance });
      }
    }
  }
  report.attemptedUsd = Number(attempted) / perUsd;
  report.postgresDeltaUsd = Number(delta) / perUsd;
  return report;
}
