import { QuotaExhaustedError } from "./errors";
import { entryHasAnyLimit, QUOTA_SCHEMA_VERSION, type QuotaCacheEntry, type WindowRefresh } from "./quota-cache";
import type { QuotaRow } from "./quota-repo";
import type { QuotaWindow } from "./vocabulary";
import { cacheWindowExpired, monthlyWindowExpired, nextMonthlyResetFrom, type QuotaClock } from "./windows";

/**
 * The pure core of the eligibility check (spec §5.2): functions of (entry or row, clock, now) with
 * no I/O, so the rule both sides must agree on is unit-tested on its own.
 */

/**
 * A cache entry built from a database row without losing usage (DESIGN §3.1): an expired window gets
 * usage 0 and the current window start; a live window keeps the row's usage and start. (The gateway
 * copies stale starts, so its next check zeroes usage recorded in between.)
 */
export function entryFromRow(row: QuotaRow, clock: QuotaClock, now: number): QuotaCacheEntry {
  const sod = clock.startOfDay(now);
  const sow = clock.startOfWeek(now);
  const dailyLive = !cacheWindowExpired(row.dailyWindowStart, sod);
  const weeklyLive = !cacheWindowExpired(row.weeklyWindowStart, sow);
  const monthlyLive = !monthlyWindowExpired(row.monthlyWindowStart, now);
  return {
    dailyUsage: dailyLive ? row.dailyUsage : 0,
    weeklyUsage: weeklyLive ? row.weeklyUsage : 0,
    monthlyUsage: monthlyLive ? row.monthlyUsage : 0,
    version: 0,
    schemaVersion: QUOTA_SCHEMA_VERSION,
    dailyLimit: row.dailyLimit,
    weeklyLimit: row.weeklyLimit,
    monthlyLimit: row.monthlyLimit,
    dailyWindowStart: dailyLive ? row.dailyWindowStart : sod,
    weeklyWindowStart: weeklyLive ? row.weeklyWindowStart : sow,
    monthlyWindowStart: monthlyLive ? row.monthlyWindowStart : now,
  };
}

/**
 * A cost recorded but not yet in either store's numbers: in flusher mode, an op whose Redis step
 * failed waits in the PostgreSQL outbox (`replay`) until Redis answers.
 */
export type PendingCost = { at: number; cost: number };

/**
 * `entry` (current windows, e.g. from entryFromRow) plus the pending costs recorded inside each of
 * its windows. Flusher mode during a Redis outage decides from the row, which has none of the
 * outage's costs (they are replays in the outbox); adding them keeps that decision from running on a
 * frozen number. What the row still lacks is the usage Redis had not flushed before the outage
 * (docs/consistency.md §5).
 */
export function withPendingCosts(entry: QuotaCacheEntry, pending: readonly PendingCost[]): QuotaCacheEntry {
  if (pending.length === 0) return entry;
  let d = 0;
  let w = 0;
  let m = 0;
  for (const p of pending) {
    if (!(p.cost > 0) || !Number.isFinite(p.cost)) continue;
    if (p.at >= (entry.dailyWindowStart ?? 0)) d += p.cost;
    if (p.at >= (entry.weeklyWindowStart ?? 0)) w += p.cost;
    if (p.at >= (entry.monthlyWindowStart ?? 0)) m += p.cost;
  }
  return {
    ...entry,
    dailyUsage: entry.dailyUsage + d,
    weeklyUsage: entry.weeklyUsage + w,
    monthlyUsage: entry.monthlyUsage + m,
  };
}

/** The sentinel the gateway writes for "no row" (spec §5.2 step 3a): no limits, usage 0, windows set. */
export function sentinelEntry(clock: QuotaClock, now: number): QuotaCacheEntry {
  return {
    dailyUsage: 0,
    weeklyUsage: 0,
    monthlyUsage: 0,
    version: 0,
    schemaVersion: QUOTA_SCHEMA_VERSION,
    dailyLimit: null,
    weeklyLimit: null,
    monthlyLimit: null,
    dailyWindowStart: clock.startOfDay(now),
    weeklyWindowStart: clock.startOfWeek(now),
    monthlyWindowStart: now,
  };
}

const NONE: readonly WindowRefresh[] = Object.freeze([]);

/**
 * The windows of a cached entry that have expired and should be reset in Redis (spec §4.4): none for
 * a sentinel-like entry (no limits), whose short TTL must not be upgraded.
 */
export function windowsToRefresh(entry: QuotaCacheEntry, clock: QuotaClock, now: number): readonly WindowRefresh[] {
  if (!entryHasAnyLimit(entry)) return NONE;
  const sod = clock.startOfDay(now);
  const sow = clock.startOfWeek(now);
  const d = cacheWindowExpired(entry.dailyWindowStart, sod);
  const w = cacheWindowExpired(entry.weeklyWindowStart, sow);
  const m = monthlyWindowExpired(entry.monthlyWindowStart, now);
  if (!d && !w && !m) return NONE; // the hot path allocates nothing
  const out: WindowRefresh[] = [];
  if (d) out.push({ window: "daily", seenStart: entry.dailyWindowStart, newStart: sod });
  if (w) out.push({ window: "weekly", seenStart: entry.weeklyWindowStart, newStart: sow });
  if (m) out.push({ window: "monthly", seenStart: entry.monthlyWindowStart, newStart: now });
  return out;
}

/** What the rule reads: a cache entry or a database row (same field names). */
export type QuotaState = Pick<
  QuotaCacheEntry,
  | "dailyUsage"
  | "weeklyUsage"
  | "monthlyUsage"
  | "dailyLimit"
  | "weeklyLimit"
  | "monthlyLimit"
  | "dailyWindowStart"
  | "weeklyWindowStart"
  | "monthlyWindowStart"
>;

/**
 * The block/allow rule: daily → weekly → monthly; blocked when a limit is set and the window's usage
 * (0 when the window expired) is ≥ the limit. Returns the error to send, or null to allow. NaN limits
 * and usages compare false, exactly as in Go. Pass the cached entry as read (cache path) or the row as
 * loaded (database path) — never a rebuilt entry, whose fresh monthly start would change when and in
 * which zone Go reports the monthly reset.
 */
export function decideQuota(
  entry: QuotaState,
  clock: QuotaClock,
  now: number,
  refresh?: readonly WindowRefresh[],
): QuotaExhaustedError | null {
  // `refresh`: windowsToRefresh(entry, clock, now) when the caller has it — the expired windows,
  // already computed (empty only for an entry with no limits, which blocks nothing anyway).
  if (entry.dailyLimit !== null) {
    const expired = refresh
      ? inRefresh(refresh, "daily")
      : cacheWindowExpired(entry.dailyWindowStart, clock.startOfDay(now));
    if ((expired ? 0 : entry.dailyUsage) >= entry.dailyLimit)
      return exhausted(clock, "daily", clock.nextDailyReset(now));
  }
  if (entry.weeklyLimit !== null) {
    const expired = refresh
      ? inRefresh(refresh, "weekly")
      : cacheWindowExpired(entry.weeklyWindowStart, clock.startOfWeek(now));
    if ((expired ? 0 : entry.weeklyUsage) >= entry.weeklyLimit)
      return exhausted(clock, "weekly", clock.nextWeeklyReset(now));
  }
  if (entry.monthlyLimit !== null) {
    const expired = refresh ? inRefresh(refresh, "monthly") : monthlyWindowExpired(entry.monthlyWindowStart, now);
    if ((expired ? 0 : entry.monthlyUsage) >= entry.monthlyLimit)
      return new QuotaExhaustedError(
        "monthly",
        clock.monthlyResetAt(entry.monthlyWindowStart, now),
        nextMonthlyResetFrom(entry.monthlyWindowStart, now),
      );
  }
  return null;
}

function inRefresh(refresh: readonly WindowRefresh[], window: QuotaWindow): boolean {
  for (const r of refresh) if (r.window === window) return true;
  return false;
}

function exhausted(clock: QuotaClock, window: "daily" | "weekly", resetsAtMs: number): QuotaExhaustedError {
  return new QuotaExhaustedError(window, clock.formatRfc3339(resetsAtMs), resetsAtMs);
}
