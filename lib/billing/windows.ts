import { DateTime, IANAZone } from "luxon";

/**
 * Quota windows (spec §4): daily = calendar day and weekly = calendar week from Monday, both in one
 * time zone that must equal the gateway's (default Asia/Shanghai); monthly = 30 × 24 h rolling
 * from the window start. Instants are epoch milliseconds; `now` is always a parameter.
 *
 * Calendar maths goes through luxon (IANA zones, DST-correct); the current day and week are
 * memoised as [start, end) intervals, so the hot path is two comparisons.
 */
export const MONTH_MS = 30 * 24 * 60 * 60 * 1000;

export type Window = "daily" | "weekly" | "monthly";
export const WINDOWS: readonly Window[] = ["daily", "weekly", "monthly"];

type Interval = { start: number; end: number };

export class QuotaClock {
  private day: Interval = { start: 0, end: 0 };
  private week: Interval = { start: 0, end: 0 };

  constructor(readonly timeZone: string = "Asia/Shanghai") {
    if (!IANAZone.isValidZone(timeZone)) throw new Error(`invalid time zone: ${timeZone}`);
  }

  private dayOf(now: number): Interval {
    if (now >= this.day.start && now < this.day.end) return this.day;
    const start = DateTime.fromMillis(now, { zone: this.timeZone }).startOf("day");
    this.day = { start: start.toMillis(), end: start.plus({ days: 1 }).toMillis() };
    return this.day;
  }

  private weekOf(now: number): Interval {
    if (now >= this.week.start && now < this.week.end) return this.week;
    // luxon's startOf("week") is the ISO week: Monday 00:00 (Sunday is day 7, as in Go's StartOfWeek).
    const start = DateTime.fromMillis(now, { zone: this.timeZone }).startOf("week");
    this.week = { start: start.toMillis(), end: start.plus({ days: 7 }).toMillis() };
    return this.week;
  }

  /** 00:00 of now's calendar date in the quota zone (Go timezone.StartOfDay). */
  startOfDay(now: number): number {
    return this.dayOf(now).start;
  }

  /** Monday 00:00 of now's week in the quota zone (Go timezone.StartOfWeek). */
  startOfWeek(now: number): number {
    return this.weekOf(now).start;
  }

  /** StartOfDay(now) + 1 calendar day (23 or 25 h across DST). */
  nextDailyReset(now: number): number {
    return this.dayOf(now).end;
  }

  /** StartOfWeek(now) + 7 calendar days. */
  nextWeeklyReset(now: number): number {
    return this.weekOf(now).end;
  }

  /** Current window start for a window, as the gateway sets it on a reset (monthly = now). */
  currentWindowStart(window: Window, now: number): number {
    return window === "daily" ? this.startOfDay(now) : window === "weekly" ? this.startOfWeek(now) : now;
  }

  /** Go's t.In(zone).Format(time.RFC3339): seconds precision, "Z" for a zero offset. */
  formatRfc3339(ms: number): string {
    return formatRfc3339(ms, this.timeZone);
  }
}

const rfc3339Memo = new Map<string, string>();

/**
 * RFC 3339 in a zone, as Go formats it ("Z" when the offset is zero, no fractional seconds).
 * Memoised: read APIs format the same few instants (window starts and resets) over and over, and
 * luxon's zone-offset lookup was a fifth of the quota API's CPU.
 */
export function formatRfc3339(ms: number, zone: string): string {
  const sec = Math.floor(ms / 1000);
  const key = `${zone}|${sec}`;
  let s = rfc3339Memo.get(key);
  if (s === undefined) {
    const dt = DateTime.fromMillis(sec * 1000, { zone });
    s = dt.offset === 0 ? dt.toFormat("yyyy-MM-dd'T'HH:mm:ss'Z'") : dt.toFormat("yyyy-MM-dd'T'HH:mm:ssZZ");
    if (rfc3339Memo.size >= 10_000) rfc3339Memo.clear();
    rfc3339Memo.set(key, s);
  }
  return s;
}

// ---- The three expiry rules (spec §4.3). They differ on purpose; each path uses its own. ----

/** Gateway cache / pre-request check, daily and weekly: nil or strictly before the window start. */
export function cacheWindowExpired(start: number | null, windowStart: number): boolean {
  return start === null || start < windowStart;
}

/** Monthly, cache / pre-request check and DB increment: nil or now − start ≥ 30 d (inclusive). */
export function monthlyWindowExpired(start: number | null, now: number): boolean {
  return start === null || now - start >= MONTH_MS;
}

/** DB increment (`maybeReset`), daily and weekly: nil or not exactly the computed start. */
export function dbWindowExpired(start: number | null, windowStart: number): boolean {
  return start === null || start !== windowStart;
}

/** Read APIs' lazy zero, daily and weekly: a nil start is NOT expired. */
export function readWindowExpired(start: number | null, windowStart: number): boolean {
  return start !== null && start < windowStart;
}

/** Read APIs' lazy zero, monthly: a nil start is NOT expired. */
export function readMonthlyExpired(start: number | null, now: number): boolean {
  return start !== null && now - start >= MONTH_MS;
}

/** start + 30 d; now + 30 d when there is no start or the window already expired (never past). */
export function nextMonthlyResetFrom(start: number | null, now: number): number {
  return monthlyWindowExpired(start, now) ? now + MONTH_MS : (start as number) + MONTH_MS;
}
