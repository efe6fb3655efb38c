import { formatGoFloat, formatNullableInstant } from "./encoding";
import { billingKeys, ledgerKeys } from "./keys";
import { decodeQuotaEntry, QUOTA_SCHEMA_VERSION, type DecodedQuotaEntry, type QuotaField } from "./quota-cache";
import { QUOTA_COLUMNS, toRow, type QuotaRow, type RawRow } from "./quota-repo";
import type { BillingRuntime } from "./runtime";
import { cacheWindowExpired, monthlyWindowExpired } from "./windows";

/**
 * Drift check and repair (npm run reconcile, Admin → Cache health): every active quota row with a
 * limit is compared with its Redis hash. A key differs when the limits differ, or when a window's
 * effective usage differs — what enforcement would count now on each side (an expired or never
 * started window counts as 0, by the cache's expiry rules) — so a hash that missed costs is found
 * whatever its window starts say. Keys whose difference is expected are not
 * drift: flusher mode's dirty or in-flight keys (PostgreSQL lags until the next flush), keys with a
 * live usage-op lease or pending outbox work. A difference must still be there on a second look a
 * moment later (an op in flight between the two reads is not drift).
 *
 * Repair: direct mode drops the hash (the next check rebuilds it from PostgreSQL, which holds every
 * cost). Flusher mode never drops usage: differing limits are rewritten in place from PostgreSQL; a
 * malformed hash is repaired field by field; where PostgreSQL has MORE usage than Redis (Redis lost
 * data — a restore, an eviction), Redis is raised to PostgreSQL's value; where Redis has more
 * (PostgreSQL lags), the key is marked dirty so the flusher writes it.
 */
export type DriftItem = {
  userId: number;
  platform: string;
  /** what differs: "usage" (PostgreSQL and Redis disagree on a window's usage) or "limits" */
  kind: "usage" | "limits";
  redis: { daily: number; weekly: number; monthly: number; limits: [number | null, number | null, number | null] };
  postgres: { daily: number; weekly: number; monthly: number; limits: [number | null, number | null, number | null] };
  repaired: boolean;
};

export type ReconcileResult = {
  at: string;
  mode: "direct" | "flusher";
  checked: number;
  /** keys with a limit and no Redis hash (nothing to compare: the next check builds it) */
  absent: number;
  /** keys whose Redis read failed during the scan */
  unreadable: number;
  /** keys skipped because their difference is expected now (dirty, leased, outbox work pending) */
  skipped: number;
  drifted: number;
  repaired: number;
  items: DriftItem[];
  /** the scan stopped early (maxKeys reached) */
  truncated: boolean;
};

/** What differs between a row and its hash: limits, effective usage (expired windows count 0), both, or nothing. */
function differs(
  row: QuotaRow,
  e: DecodedQuotaEntry,
  clock: BillingRuntime["clock"],
  now: number,
): { limits: boolean; usage: boolean } {
  const sameLimit = (a: number | null, b: number | null) =>
    a === null ? b === null : b !== null && Math.abs(a - b) < 1e-9;
  const limits =
    !sameLimit(row.dailyLimit, e.dailyLimit) ||
    !sameLimit(row.weeklyLimit, e.weeklyLimit) ||
    !sameLimit(row.monthlyLimit, e.monthlyLimit);
  const u = effectiveUsage(row, e, clock, now);
  const usage = u.some(([pg, redis]) => Math.abs(pg - redis) > 1e-7);
  return { limits, usage };
}

/** Per window [PostgreSQL, Redis] usage as enforcement counts it now (the cache's expiry rules on both). */
function effectiveUsage(
  row: QuotaRow,
  e: DecodedQuotaEntry,
  clock: BillingRuntime["clock"],
  now: number,
): Array<[number, number]> {
  const sod = clock.startOfDay(now);
  const sow = clock.startOfWeek(now);
  const day = (start: number | null, u: number) => (cacheWindowExpired(start, sod) ? 0 : u);
  const week = (start: number | null, u: number) => (cacheWindowExpired(start, sow) ? 0 : u);
  const month = (start: number | null, u: number) => (monthlyWindowExpired(start, now) ? 0 : u);
  return [
    [day(row.dailyWindowStart, row.dailyUsage), day(e.dailyWindowStart, e.dailyUsage)],
    [week(row.weeklyWindowStart, row.weeklyUsage), week(e.weeklyWindowStart, e.weeklyUsage)],
    [month(row.monthlyWindowStart, row.monthlyUsage), month(e.monthlyWindowStart, e.monthlyUsage)],
  ];
}

const triple = (x: {
  dailyUsage: number;
  weeklyUsage: number;
  monthlyUsage: number;
  dailyLimit: number | null;
  weeklyLimit: number | null;
  monthlyLimit: number | null;
}) => ({
  daily: x.dailyUsage,
  weekly: x.weeklyUsage,
  monthly: x.monthlyUsage,
  limits: [x.dailyLimit, x.weeklyLimit, x.monthlyLimit] as [number | null, number | null, number | null],
});

/** Why a key's difference is expected right now (null: it is not). */
async function expectedDifference(
  rt: BillingRuntime,
  userId: number,
  platform: string,
  flusherMode: boolean,
): Promise<string | null> {
  const redis = rt.redis!;
  const member = billingKeys.dirtyMember(userId, platform);
  const [dirty, fence, flushers] = await Promise.all([
    flusherMode ? redis.sismember(billingKeys.dirtySet, member) : Promise.resolve(0),
    redis.hgetall(ledgerKeys.fence(userId, platform)),
    flusherMode ? redis.smembers(ledgerKeys.flushers) : Promise.resolve([] as string[]),
  ]);
  if (dirty) return "dirty";
  for (const f of flushers) if (await redis.sismember(ledgerKeys.flushing(f), member)) return "flushing";
  const now = Date.now();
  for (const [k, v] of Object.entries(fence)) if (k.startsWith("l:") && Number(v) > now) return "leased";
  const { rows } = await rt.pool.query("SELECT 1 FROM cache_invalidation_outbox WHERE cache_key = $1 LIMIT 1", [
    billingKeys.userPlatformQuota(userId, platform),
  ]);
  if (rows.length) return "outbox";
  return null;
}

export async function reconcile(
  rt: BillingRuntime,
  opts: { repair?: boolean; maxKeys?: number; batch?: number; recheckDelayMs?: number; userIds?: number[] } = {},
): Promise<ReconcileResult> {
  if (!rt.redis || !rt.cache) throw new Error("reconcile needs Redis");
  const cache = rt.cache;
  const flusherMode = rt.service.config.flusherEnabled;
  const batch = opts.batch ?? 1000;
  const maxKeys = opts.maxKeys ?? Number.POSITIVE_INFINITY;
  const result: ReconcileResult = {
    at: new Date().toISOString(),
    mode: flusherMode ? "flusher" : "direct",
    checked: 0,
    absent: 0,
    unreadable: 0,
    skipped: 0,
    drifted: 0,
    repaired: 0,
    items: [],
    truncated: false,
  };
  const suspects: QuotaRow[] = [];
  let lastId = 0;
  while (result.checked < maxKeys) {
    const { rows } = await rt.pool.query<RawRow>(
      `SELECT ${QUOTA_COLUMNS} FROM user_platform_quotas
       WHERE deleted_at IS NULL AND id > $1 AND (daily_limit_usd IS NOT NULL OR weekly_limit_usd IS NOT NULL OR monthly_limit_usd IS NOT NULL)
         AND ($3::bigint[] IS NULL OR user_id = ANY($3::bigint[]))
       ORDER BY id LIMIT $2`,
      [lastId, Math.min(batch, maxKeys - result.checked), opts.userIds ?? null],
    );
    if (rows.length === 0) break;
    lastId = Number(rows[rows.length - 1].id);
    const qrows = rows.map(toRow);
    const entries = await cache.readMany(qrows.map((r) => billingKeys.userPlatformQuota(r.userId, r.platform)));
    const now = Date.now();
    qrows.forEach((row, i) => {
      result.checked++;
      const e = entries[i];
      if (e === undefined) return void result.unreadable++; // that HGETALL failed: not "absent"
      if (!e || e.schemaVersion !== QUOTA_SCHEMA_VERSION) return void result.absent++;
      const d = differs(row, e, rt.clock, now);
      if (e.malformed || d.limits || d.usage) suspects.push(row);
    });
  }
  if (result.checked >= maxKeys) {
    const more = await rt.pool.query(
      `SELECT 1 FROM user_platform_quotas WHERE deleted_at IS NULL AND id > $1
         AND (daily_limit_usd IS NOT NULL OR weekly_limit_usd IS NOT NULL OR monthly_limit_usd IS NOT NULL)
         AND ($2::bigint[] IS NULL OR user_id = ANY($2::bigint[])) LIMIT 1`,
      [lastId, opts.userIds ?? null],
    );
    result.truncated = (more.rowCount ?? 0) > 0;
  }
  // Second look: an op between the two reads, or a flush about to land, is not drift.
  if (suspects.length) await new Promise((r) => setTimeout(r, opts.recheckDelayMs ?? 1000));
  for (let i = 0; i < suspects.length; i += 50) {
    const outcomes = await Promise.all(
      suspects.slice(i, i + 50).map((s) => secondLook(rt, s, flusherMode, opts.repair === true)),
    );
    for (const o of outcomes) {
      if (o === null) continue;
      if (o === "skipped") {
        result.skipped++;
        continue;
      }
      result.drifted++;
      if (o.repaired) result.repaired++;
      if (result.items.length < 500) result.items.push(o);
    }
  }
  // Only a full run is "the last drift check" the panel and /api/health report.
  if (!opts.userIds && !result.truncated) {
    await rt.redis
      .set(
        ledgerKeys.reconcile,
        JSON.stringify({ at: result.at, checked: result.checked, drifted: result.drifted, repaired: result.repaired }),
        "EX",
        7 * 86400,
      )
      .catch(() => {});
  }
  return result;
}

/** Re-read one suspect key; null when it no longer differs, "skipped" when the difference is expected. */
async function secondLook(
  rt: BillingRuntime,
  s: QuotaRow,
  flusherMode: boolean,
  repair: boolean,
): Promise<DriftItem | "skipped" | null> {
  const [row, e] = await Promise.all([
    rt.repo.getByUserPlatform(s.userId, s.platform),
    rt.cache!.get(s.userId, s.platform),
  ]);
  if (!row || !e || e.schemaVersion !== QUOTA_SCHEMA_VERSION) return null;
  const d = differs(row, e, rt.clock, Date.now());
  if (!e.malformed && !d.limits && !d.usage) return null;
  if (await expectedDifference(rt, s.userId, s.platform, flusherMode)) return "skipped";
  const repaired = repair ? (await repairDrift(rt, row, e), true) : false;
  return {
    userId: s.userId,
    platform: s.platform,
    kind: d.limits ? "limits" : "usage",
    redis: triple(e),
    postgres: triple(row),
    repaired,
  };
}

/**
 * Make one drifted key agree, in the mode's direction: direct mode drops the hash (rebuilt from
 * PostgreSQL); flusher mode repairs malformed fields, rewrites the limits, and for usage either
 * raises Redis to PostgreSQL (where PostgreSQL has more: Redis lost data) or marks the key dirty
 * (where Redis has more: the flusher writes it). Never lowers a recorded usage.
 */
async function repairDrift(
  rt: BillingRuntime,
  row: QuotaRow,
  e: DecodedQuotaEntry,
): Promise<"dropped" | "flush-queued"> {
  const cache = rt.cache!;
  if (!rt.service.config.flusherEnabled) {
    await cache.invalidate(row.userId, row.platform);
    return "dropped";
  }
  if (e.malformed) await rt.repairer.repairKey(row.userId, row.platform);
  await cache.applyLimits(row.userId, row.platform, {
    daily: row.dailyLimit,
    weekly: row.weeklyLimit,
    monthly: row.monthlyLimit,
  });
  const raw = await cache.raw(row.userId, row.platform);
  const fixed = decodeQuotaEntry(raw);
  if (fixed) {
    const eff = effectiveUsage(row, fixed, rt.clock, Date.now());
    const fields = [
      ["daily_usage", "daily_window_start", row.dailyWindowStart],
      ["weekly_usage", "weekly_window_start", row.weeklyWindowStart],
      ["monthly_usage", "monthly_window_start", row.monthlyWindowStart],
    ] as const;
    const fixes: Array<{ field: QuotaField; seen: string | undefined; value: string }> = [];
    eff.forEach(([pg, redis], i) => {
      if (pg - redis > 1e-7) {
        const [usageField, startField, start] = fields[i];
        fixes.push({ field: usageField, seen: raw[usageField], value: formatGoFloat(pg) });
        fixes.push({ field: startField, seen: raw[startField], value: formatNullableInstant(start) });
      }
    });
    if (fixes.length) await cache.repairFields(row.userId, row.platform, fixes);
  }
  await cache.markDirty([billingKeys.dirtyMember(row.userId, row.platform)]);
  return "flush-queued";
}

/** Repair one key now (the Cache health panel's button), whatever it looks like. */
export async function repairKey(
  rt: BillingRuntime,
  userId: number,
  platform: string,
): Promise<"dropped" | "flush-queued" | "no-row"> {
  if (!rt.cache) throw new Error("no Redis");
  const row = await rt.repo.getByUserPlatform(userId, platform);
  if (!rt.service.config.flusherEnabled) {
    await rt.cache.invalidate(userId, platform);
    return "dropped";
  }
  if (!row) return "no-row";
  const e = await rt.cache.get(userId, platform);
  if (!e) {
    await rt.cache.markDirty([billingKeys.dirtyMember(userId, platform)]);
    return "flush-queued";
  }
  return repairDrift(rt, row, e);
}
