import { billingKeys, ledgerKeys } from "./keys";
import { QUOTA_SCHEMA_VERSION, hasAnyLimit, type DecodedQuotaEntry } from "./quota-cache";
import { QUOTA_COLUMNS, toRow, type QuotaRow, type RawRow } from "./quota-repo";
import type { BillingRuntime } from "./runtime";
import { cacheWindowExpired, monthlyWindowExpired } from "./windows";

/**
 * Drift check and repair (npm run reconcile, Admin → Cache health): every active quota row with a
 * limit is compared with its Redis hash. A key differs when, in a window both have with the same
 * start, the usage differs, or when the limits differ. Keys whose difference is expected are not
 * drift: flusher mode's dirty or in-flight keys (PostgreSQL lags until the next flush), keys with a
 * live usage-op lease or pending outbox work. A difference must still be there on a second look a
 * moment later (an op in flight between the two reads is not drift).
 *
 * Repair: direct mode drops the hash (the next check rebuilds it from PostgreSQL, which holds every
 * cost); flusher mode marks the key dirty so the flusher writes Redis' usage to PostgreSQL, and
 * rewrites differing limits in place from PostgreSQL.
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
  /** keys skipped because their difference is expected now (dirty, leased, outbox work pending) */
  skipped: number;
  drifted: number;
  repaired: number;
  items: DriftItem[];
  /** the scan stopped early (maxKeys reached) */
  truncated: boolean;
};

function differs(row: QuotaRow, e: DecodedQuotaEntry, clock: BillingRuntime["clock"], now: number): "usage" | "limits" | null {
  const sameLimit = (a: number | null, b: number | null) => (a === null ? b === null : b !== null && Math.abs(a - b) < 1e-9);
  if (!sameLimit(row.dailyLimit, e.dailyLimit) || !sameLimit(row.weeklyLimit, e.weeklyLimit) || !sameLimit(row.monthlyLimit, e.monthlyLimit)) return "limits";
  const sod = clock.startOfDay(now);
  const sow = clock.startOfWeek(now);
  const usage = (ru: number, eu: number, rs: number | null, es: number | null, live: boolean) => live && rs !== null && rs === es && Math.abs(ru - eu) > 1e-7;
  if (
    usage(row.dailyUsage, e.dailyUsage, row.dailyWindowStart, e.dailyWindowStart, !cacheWindowExpired(e.dailyWindowStart, sod)) ||
    usage(row.weeklyUsage, e.weeklyUsage, row.weeklyWindowStart, e.weeklyWindowStart, !cacheWindowExpired(e.weeklyWindowStart, sow)) ||
    usage(row.monthlyUsage, e.monthlyUsage, row.monthlyWindowStart, e.monthlyWindowStart, !monthlyWindowExpired(e.monthlyWindowStart, now))
  ) {
    return "usage";
  }
  return null;
}

const triple = (x: { dailyUsage: number; weeklyUsage: number; monthlyUsage: number; dailyLimit: number | null; weeklyLimit: number | null; monthlyLimit: number | null }) => ({
  daily: x.dailyUsage,
  weekly: x.weeklyUsage,
  monthly: x.monthlyUsage,
  limits: [x.dailyLimit, x.weeklyLimit, x.monthlyLimit] as [number | null, number | null, number | null],
});

/** Why a key's difference is expected right now (null: it is not). */
async function expectedDifference(rt: BillingRuntime, userId: number, platform: string, flusherMode: boolean): Promise<string | null> {
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
  const { rows } = await rt.pool.query("SELECT 1 FROM cache_invalidation_outbox WHERE cache_key = $1 LIMIT 1", [billingKeys.userPlatformQuota(userId, platform)]);
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
    skipped: 0,
    drifted: 0,
    repaired: 0,
    items: [],
    truncated: false,
  };
  const suspects: QuotaRow[] = [];
  let lastId = 0;
  for (;;) {
    const { rows } = await rt.pool.query<RawRow>(
      `SELECT ${QUOTA_COLUMNS} FROM user_platform_quotas
       WHERE deleted_at IS NULL AND id > $1 AND (daily_limit_usd IS NOT NULL OR weekly_limit_usd IS NOT NULL OR monthly_limit_usd IS NOT NULL)
         AND ($3::bigint[] IS NULL OR user_id = ANY($3::bigint[]))
       ORDER BY id LIMIT $2`,
      [lastId, batch, opts.userIds ?? null],
    );
    if (rows.length === 0) break;
    lastId = Number(rows[rows.length - 1].id);
    const qrows = rows.map(toRow);
    const entries = await cache.readMany(qrows.map((r) => billingKeys.userPlatformQuota(r.userId, r.platform)));
    const now = Date.now();
    qrows.forEach((row, i) => {
      result.checked++;
      const e = entries[i];
      if (!e || e.schemaVersion !== QUOTA_SCHEMA_VERSION) {
        result.absent++;
        return;
      }
      if (e.malformed || (hasAnyLimit(row) && differs(row, e, rt.clock, now))) suspects.push(row);
    });
    if (result.checked >= maxKeys) {
      result.truncated = true;
      break;
    }
  }
  // Second look: an op between the two reads, or a flush about to land, is not drift.
  if (suspects.length) await new Promise((r) => setTimeout(r, opts.recheckDelayMs ?? 1000));
  for (const s of suspects) {
    const [row, e] = await Promise.all([rt.repo.getByUserPlatform(s.userId, s.platform), cache.get(s.userId, s.platform)]);
    if (!row || !e || e.schemaVersion !== QUOTA_SCHEMA_VERSION) continue;
    const kind = e.malformed ? "usage" : differs(row, e, rt.clock, Date.now());
    if (!kind) continue;
    if (await expectedDifference(rt, s.userId, s.platform, flusherMode)) {
      result.skipped++;
      continue;
    }
    result.drifted++;
    let repaired = false;
    if (opts.repair) {
      if (!flusherMode) await cache.invalidate(s.userId, s.platform);
      else if (e.malformed) await rt.repairer.repairKey(s.userId, s.platform);
      else if (kind === "limits") await cache.applyLimits(s.userId, s.platform, { daily: row.dailyLimit, weekly: row.weeklyLimit, monthly: row.monthlyLimit });
      else await cache.markDirty([billingKeys.dirtyMember(s.userId, s.platform)]);
      repaired = true;
      result.repaired++;
    }
    if (result.items.length < 500) result.items.push({ userId: s.userId, platform: s.platform, kind, redis: triple(e), postgres: triple(row), repaired });
  }
  await rt.redis
    .set(ledgerKeys.reconcile, JSON.stringify({ at: result.at, checked: result.checked, drifted: result.drifted, repaired: result.repaired }), "EX", 7 * 86400)
    .catch(() => {});
  return result;
}

/** Repair one key now (the Cache health panel's button): as reconcile's repair, unconditionally. */
export async function repairKey(rt: BillingRuntime, userId: number, platform: string): Promise<"dropped" | "flush-queued" | "no-row"> {
  if (!rt.cache) throw new Error("no Redis");
  if (!rt.service.config.flusherEnabled) {
    await rt.cache.invalidate(userId, platform);
    return "dropped";
  }
  const row = await rt.repo.getByUserPlatform(userId, platform);
  if (!row) return "no-row";
  await rt.cache.applyLimits(userId, platform, { daily: row.dailyLimit, weekly: row.weeklyLimit, monthly: row.monthlyLimit });
  await rt.cache.markDirty([billingKeys.dirtyMember(userId, platform)]);
  return "flush-queued";
}
