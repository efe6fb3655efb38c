import { QUOTA_SCHEMA_VERSION, type QuotaCacheEntry } from "./quota-cache";
import type { QuotaRow } from "./quota-repo";
import {
  cacheWindowExpired,
  MONTH_MS,
  monthlyWindowExpired,
  readMonthlyExpired,
  readWindowExpired,
  type QuotaClock,
} from "./windows";

/**
 * The quota item of the gateway's read APIs (spec §7.1), from the freshest data available: the
 * current-schema Redis entry when there is one (the cache's expiry rules: an expired window reads
 * 0 with no reset time), else the database row with the read APIs' lazy-zero rules (a nil start
 * is not expired and shows the stored usage). Limits always come from the row. Never writes.
 */
export type QuotaItem = {
  platform: string;
  daily_usage_usd: number;
  daily_limit_usd: number | null;
  daily_window_resets_at: string | null;
  weekly_usage_usd: number;
  weekly_limit_usd: number | null;
  weekly_window_resets_at: string | null;
  monthly_usage_usd: number;
  monthly_limit_usd: number | null;
  monthly_window_resets_at: string | null;
};

export type AdminQuotaItem = QuotaItem & {
  daily_window_start: string | null;
  weekly_window_start: string | null;
  monthly_window_start: string | null;
  /** where the usage came from (our addition) */
  usage_source: "cache" | "database";
};

/** Round like the gateway's UI (2 decimals would lose cents of cents: keep 10, the DB scale). */
const usd = (n: number) => Math.round(n * 1e10) / 1e10;

export function adminQuotaItem(
  row: QuotaRow,
  now: number,
  clock: QuotaClock,
  cached?: QuotaCacheEntry | null,
): AdminQuotaItem {
  const fmt = (ms: number | null) => (ms === null ? null : clock.formatRfc3339(ms));
  const sod = clock.startOfDay(now);
  const sow = clock.startOfWeek(now);
  const fromCache = cached && cached.schemaVersion === QUOTA_SCHEMA_VERSION ? cached : null;
  let d: { usage: number; start: number | null; live: boolean };
  let w: typeof d;
  let m: typeof d;
  if (fromCache) {
    d = {
      usage: fromCache.dailyUsage,
      start: fromCache.dailyWindowStart,
      live: !cacheWindowExpired(fromCache.dailyWindowStart, sod),
    };
    w = {
      usage: fromCache.weeklyUsage,
      start: fromCache.weeklyWindowStart,
      live: !cacheWindowExpired(fromCache.weeklyWindowStart, sow),
    };
    m = {
      usage: fromCache.monthlyUsage,
      start: fromCache.monthlyWindowStart,
      live: !monthlyWindowExpired(fromCache.monthlyWindowStart, now),
    };
  } else {
    d = { usage: row.dailyUsage, start: row.dailyWindowStart, live: !readWindowExpired(row.dailyWindowStart, sod) };
    w = { usage: row.weeklyUsage, start: row.weeklyWindowStart, live: !readWindowExpired(row.weeklyWindowStart, sow) };
    m = {
      usage: row.monthlyUsage,
      start: row.monthlyWindowStart,
      live: !readMonthlyExpired(row.monthlyWindowStart, now),
    };
  }
  // resets_at: only for a live window with a start (a nil start has no reset time yet).
  const reset = (x: typeof d, next: () => number) => (x.live && x.start !== null ? fmt(next()) : null);
  return {
    platform: row.platform,
    daily_usage_usd: d.live ? usd(d.usage) : 0,
    daily_limit_usd: row.dailyLimit,
    daily_window_resets_at: reset(d, () => clock.nextDailyReset(now)),
    weekly_usage_usd: w.live ? usd(w.usage) : 0,
    weekly_limit_usd: row.weeklyLimit,
    weekly_window_resets_at: reset(w, () => clock.nextWeeklyReset(now)),
    monthly_usage_usd: m.live ? usd(m.usage) : 0,
    monthly_limit_usd: row.monthlyLimit,
    monthly_window_resets_at: reset(m, () => (m.start as number) + MONTH_MS),
    daily_window_start: fmt(d.start),
    weekly_window_start: fmt(w.start),
    monthly_window_start: fmt(m.start),
    usage_source: fromCache ? "cache" : "database",
  };
}

/** The user-facing item: the admin item without window starts (spec §7.2). */
export function userQuotaItem(i: AdminQuotaItem): QuotaItem {
  return {
    platform: i.platform,
    daily_usage_usd: i.daily_usage_usd,
    daily_limit_usd: i.daily_limit_usd,
    daily_window_resets_at: i.daily_window_resets_at,
    weekly_usage_usd: i.weekly_usage_usd,
    weekly_limit_usd: i.weekly_limit_usd,
    weekly_window_resets_at: i.weekly_window_resets_at,
    monthly_usage_usd: i.monthly_usage_usd,
    monthly_limit_usd: i.monthly_limit_usd,
    monthly_window_resets_at: i.monthly_window_resets_at,
  };
}
