// The users list's 7-day spend sparkline (issue 15): each listed user's cost per quota day over the
// last SPARK_DAYS days (today included), summed over platforms, from the usage-history rollups
// (lib/billing/history.ts) — ONE statement for the page's users, never one per row.
import type pg from "pg";

import { dayStartBefore, type HistoryRetention } from "@/lib/billing/history";
import type { QuotaClock } from "@/lib/billing/windows";

export const SPARK_DAYS = 7;

/** en-CA formats a date as YYYY-MM-DD; one formatter per zone (constructing one costs ~1 ms). */
const dayKeys = new Map<string, Intl.DateTimeFormat>();

/**
 * The last sparkline days computed per clock, keyed by the start of today: the days change once a
 * day, and walking them back costs a dozen startOfDay misses that also push today's dates out of
 * the clock's small memo (every quota item of the page reads them).
 */
const lastDays = new WeakMap<QuotaClock, { today: number; days: string[]; from: number }>();

/** The quota days of the sparkline, oldest first, as `YYYY-MM-DD` in the quota time zone. */
export function sparkDays(clock: QuotaClock, now: number): { days: string[]; from: number } {
  const today = clock.startOfDay(now);
  const last = lastDays.get(clock);
  if (last?.today === today) return last;
  const key = dayKeys.get(clock.timeZone) ?? new Intl.DateTimeFormat("en-CA", { timeZone: clock.timeZone });
  dayKeys.set(clock.timeZone, key);
  const starts = [today];
  for (let i = 1; i < SPARK_DAYS; i++) starts.unshift(dayStartBefore(clock, starts[0], 1));
  const computed = { today, days: starts.map((s) => key.format(s)), from: starts[0] };
  lastDays.set(clock, computed);
  return computed;
}

/** Cents are what the sparkline can show. */
const cents = (n: number) => Math.round(n * 100) / 100;

/**
 * Per user (by id), SPARK_DAYS costs in USD rounded to cents, oldest day first, 0 for a day without
 * usage. The hourly buckets where the retention keeps them (exact, written with the usage), the
 * daily sums before that — as userHistory reads one user; index-backed: a range of each rollup's
 * primary key (user_id, time, platform) per listed user.
 */
export async function readSpendSparklines(
  db: Pick<pg.Pool, "query">,
  clock: QuotaClock,
  retention: HistoryRetention,
  userIds: readonly number[],
  now: number,
): Promise<{ days: string[]; spend: Map<number, number[]> }> {
  const { days } = sparkDays(clock, now);
  const spend = new Map<number, number[]>(userIds.map((id) => [id, Array<number>(SPARK_DAYS).fill(0)]));
  if (userIds.length === 0) return { days, spend };
  const { rows } = await db.query<{ user_id: string; day: string; cost: number }>(
    sparklineQuery(clock, retention, userIds, now),
  );
  const index = new Map(days.map((d, i) => [d, i]));
  for (const r of rows) {
    const i = index.get(r.day);
    const series = spend.get(Number(r.user_id));
    if (i !== undefined && series) series[i] = cents(r.cost);
  }
  return { days, spend };
}

/** The sparkline's statement (readSpendSparklines runs it; bench/users-page.ts EXPLAINs it). */
export function sparklineQuery(
  clock: QuotaClock,
  retention: HistoryRetention,
  userIds: readonly number[],
  now: number,
): { text: string; values: unknown[] } {
  const { from } = sparkDays(clock, now);
  // Hourly rows from the first day the retention still keeps them; all of them when it keeps every
  // sparkline day (the default 90 days: no walk back through 89 days).
  const split =
    retention.hourlyDays >= SPARK_DAYS
      ? from
      : Math.max(from, dayStartBefore(clock, clock.startOfDay(now), retention.hourlyDays - 1));
  return {
    text: `SELECT user_id, day::text AS day, sum(cost)::float8 AS cost FROM (
       SELECT user_id, day, cost FROM usage_rollup_daily
       WHERE user_id = ANY($1::bigint[]) AND day >= ($2::timestamptz AT TIME ZONE $4)::date
         AND day < ($3::timestamptz AT TIME ZONE $4)::date
       UNION ALL
       SELECT user_id, (bucket_start AT TIME ZONE $4)::date, cost FROM usage_rollup_hourly
       WHERE user_id = ANY($1::bigint[]) AND bucket_start >= $3
     ) t GROUP BY user_id, day`,
    values: [[...userIds], new Date(from), new Date(split), clock.timeZone],
  };
}
