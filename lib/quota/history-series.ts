import { QUOTA_WINDOWS, type QuotaWindow } from "@/lib/billing/vocabulary";

/**
 * Shaping the usage-history API's answer (lib/quota/history.ts) into what the charts and their
 * data tables draw, and the "at this rate" projection. Pure and client-safe: the same functions run
 * in the browser (dashboard, quota modal) and in the admin overview's server render, and unit tests
 * pin them (tests/unit/history-series.test.ts).
 *
 * Days are YYYY-MM-DD calendar days of the quota time zone, as the API lists them; nothing here
 * converts them to instants, so the viewer's own zone never moves a cost to another day.
 */

export type HistoryDay = { day: string; platform: string; cost: string; requests: number };

/** One platform's row of the chart: exact cost text per day (aligned to `days`) and its number. */
export type PlatformSeries = { platform: string; costs: string[]; values: number[]; total: string };

const SCALE = 10; // the rollup's numeric(20,10): every cost has at most 10 decimals
const UNIT = 10n ** BigInt(SCALE);

/** A decimal string ("1.2500000001", "-0.5", "3") as an integer count of 1e-10 USD. */
export function toUnits(s: string): bigint {
  const m = /^(-?)(\d+)(?:\.(\d{0,10})\d*)?$/.exec(s.trim());
  if (!m) throw new Error(`not a decimal: ${s}`);
  const units = BigInt(m[2]) * UNIT + BigInt((m[3] ?? "").padEnd(SCALE, "0"));
  return m[1] === "-" ? -units : units;
}

/** The decimal text of a count of 1e-10 USD, with all 10 decimals ("1.2500000001", "0.0000000000"). */
export function fromUnits(u: bigint): string {
  const neg = u < 0n;
  const a = neg ? -u : u;
  return `${neg ? "-" : ""}${a / UNIT}.${(a % UNIT).toString().padStart(SCALE, "0")}`;
}

/** Exact sum of decimal strings (the table's totals: no float rounding on money). */
export function sumDecimal(values: readonly string[]): string {
  return fromUnits(values.reduce((s, v) => s + toUnits(v), 0n));
}

const ZERO = fromUnits(0n);

/**
 * Cost per platform per day, every day of `days` present (a day without a row is 0), platforms in
 * `order` first (the registry's order, as the limits list them) then any other platform with usage
 * by name. A platform with neither usage in the range nor a place in `order` gets no series.
 */
export function platformSeries(
  days: readonly string[],
  usage: readonly HistoryDay[],
  order: readonly string[] = [],
): PlatformSeries[] {
  const index = new Map(days.map((d, i) => [d, i]));
  const byPlatform = new Map<string, string[]>();
  const row = (p: string) => {
    let r = byPlatform.get(p);
    if (!r) byPlatform.set(p, (r = days.map(() => ZERO)));
    return r;
  };
  for (const p of order) row(p);
  for (const u of usage) {
    const i = index.get(u.day);
    if (i === undefined) continue; // outside the listed days (cannot happen with the API's answer)
    const r = row(u.platform);
    r[i] = sumDecimal([r[i], u.cost]);
  }
  const rest = [...byPlatform.keys()].filter((p) => !order.includes(p)).sort();
  return [...order, ...rest].map((platform) => {
    const costs = byPlatform.get(platform)!;
    return { platform, costs, values: costs.map(Number), total: sumDecimal(costs) };
  });
}

/** Every platform's cost of each day, exactly (the table's Total column). */
export function dayTotals(days: readonly string[], series: readonly PlatformSeries[]): string[] {
  return days.map((_, i) => sumDecimal(series.map((s) => s.costs[i])));
}

/** ISO weekday of a YYYY-MM-DD date: Monday = 1 … Sunday = 7 (calendar arithmetic, no zone). */
export function isoWeekday(day: string): number {
  const [y, m, d] = day.split("-").map(Number);
  return ((new Date(Date.UTC(y, m - 1, d)).getUTCDay() + 6) % 7) + 1;
}

/**
 * Spend so far in each day's calendar week (the quota's weekly window: Monday 00:00 of the quota
 * time zone, spec §4): a running total that starts again on every Monday. Drawn against the weekly
 * limit, it is the value the gateway compares with that limit at the end of each day (when nothing
 * was reset by an admin in between).
 */
export function weekToDate(days: readonly string[], values: readonly number[]): number[] {
  let run = 0;
  return days.map((d, i) => {
    if (i === 0 || isoWeekday(d) === 1) run = 0;
    run += values[i];
    return Math.round(run * 1e10) / 1e10;
  });
}

const MONTH_MS = 30 * 86_400_000;

/**
 * Spend so far in the current 30-day window (spec §4: 30 × 24 h from the window's start, which the
 * gateway sets at the first use after the last window ran out — so only the current window's start
 * is known, as its reset instant − 30 days). A running total from the quota day holding that start
 * (that day counted whole: the chart's unit is a day) to today; null before it, and everywhere when
 * there is no window (`resetsAt` null). A window that started before the first listed day (with 30
 * days listed: only the partial day before them) is summed from the first listed day.
 */
export function windowToDate(
  days: readonly string[],
  values: readonly number[],
  resetsAt: string | null,
  timeZone: string,
): Array<number | null> {
  const reset = resetsAt === null ? NaN : Date.parse(resetsAt);
  if (!Number.isFinite(reset)) return days.map(() => null);
  const startDay = new Intl.DateTimeFormat("en-CA", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
  }).format(new Date(reset - MONTH_MS));
  let run = 0;
  let inWindow = false;
  return days.map((d, i) => {
    if (d === startDay || (i === 0 && d > startDay)) inWindow = true;
    if (!inWindow) return null;
    run += values[i];
    return Math.round(run * 1e10) / 1e10;
  });
}

/** The number of finished days the projection averages over. */
export const RATE_DAYS = 7;
const DAY_MS = 86_400_000;

/**
 * The recent rate, in USD per day: the mean spend of the RATE_DAYS finished quota days before
 * today (the last of `values` is today, still running, and is left out so a morning does not read
 * as a slow day). Days without usage count as 0. With fewer finished days listed, their mean
 * (0 when there are none).
 */
export function recentRate(values: readonly number[]): number {
  const finished = values.slice(Math.max(0, values.length - 1 - RATE_DAYS), values.length - 1);
  if (finished.length === 0) return 0;
  return finished.reduce((s, v) => s + v, 0) / finished.length;
}

export type WindowState = { window: QuotaWindow; limit: number | null; used: number; resetsAt: string | null };

export type Projection =
  | { window: QuotaWindow; limit: number; kind: "reached" }
  | { window: QuotaWindow; limit: number; kind: "reaches"; at: number }
  | { window: QuotaWindow; limit: number; kind: "resetsFirst"; resetsAt: number }
  | { window: QuotaWindow; limit: number; kind: "noSpend" };

/**
 * "At this rate you reach your … cap on …", per window with a positive limit (null = no limit and
 * 0 = disabled get none: the quota cards already say the window blocks). The rule:
 *
 *   rate      = recentRate(daily spend): the mean of the last 7 finished quota days (USD/day)
 *   remaining = limit − the window's current usage (the live value the gateway enforces)
 *   remaining ≤ 0           → "reached"
 *   rate = 0                → "noSpend" (no projection without recent spend)
 *   at = now + remaining / rate days, spent evenly from now on;
 *   at ≥ the window's reset → "resetsFirst" (the cap is not reached in this window)
 *   otherwise               → "reaches" at `at`
 */
export function project(windows: readonly WindowState[], rate: number, now: number): Projection[] {
  const out: Projection[] = [];
  for (const w of QUOTA_WINDOWS) {
    const s = windows.find((x) => x.window === w);
    if (!s || s.limit === null || s.limit <= 0) continue;
    const base = { window: w, limit: s.limit };
    const remaining = s.limit - s.used;
    if (remaining <= 0) out.push({ ...base, kind: "reached" });
    else if (!(rate > 0)) out.push({ ...base, kind: "noSpend" });
    else {
      const at = now + (remaining / rate) * DAY_MS;
      const resetsAt = s.resetsAt === null ? null : Date.parse(s.resetsAt);
      if (resetsAt !== null && Number.isFinite(resetsAt) && at >= resetsAt)
        out.push({ ...base, kind: "resetsFirst", resetsAt });
      else out.push({ ...base, kind: "reaches", at });
    }
  }
  return out;
}

/** The windows of a quota API item (`daily_limit_usd`, `daily_usage_usd`, `daily_window_resets_at`, …). */
export function itemWindows(
  item: Record<`${QuotaWindow}_limit_usd`, number | null> &
    Record<`${QuotaWindow}_usage_usd`, number> &
    Record<`${QuotaWindow}_window_resets_at`, string | null>,
): WindowState[] {
  return QUOTA_WINDOWS.map((w) => ({
    window: w,
    limit: item[`${w}_limit_usd`],
    used: item[`${w}_usage_usd`],
    resetsAt: item[`${w}_window_resets_at`],
  }));
}
