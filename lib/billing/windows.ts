import { DateTime } from "luxon";

import type { QuotaWindow } from "./vocabulary";

/**
 * Quota windows (spec §4): daily = calendar day and weekly = calendar week from Monday, both in one
 * time zone that must equal the gateway's (default Asia/Shanghai); monthly = 30 × 24 h rolling
 * from the window start. Instants are epoch milliseconds; `now` is always a parameter.
 *
 * The calendar windows are the gateway's own arithmetic, ported exactly (Go 1.19 time.Date and
 * Time.AddDate; backend/internal/pkg/timezone and billing_cache_service.go):
 *
 *   StartOfDay(t)        = time.Date(y, m, d, 0, 0, 0, 0, loc)          y, m, d = t's date in loc
 *   StartOfWeek(t)       = time.Date(y, m, d-weekday+1, 0, 0, 0, 0, loc) Mon = 1 … Sun = 7
 *   nextDailyReset(now)  = StartOfDay(now).AddDate(0, 0, 1)
 *   nextWeeklyReset(now) = StartOfWeek(now).AddDate(0, 0, 7)
 *
 * time.Date reads a wall time that does not exist or exists twice with the offset in force at
 * the wall time read as UTC, and, if the instant that gives lies in another zone period, with the
 * offset in force there. So where midnight does not exist (America/Havana 2026-03-08, Sao Paulo
 * 2018-11-04) the day "starts" at 23:00 of the day before, and AddDate keeps that 23:00 wall
 * clock: the next reset can lie an hour before the real next midnight — even before `now`. That is
 * what the gateway enforces and prints, so it is what we compute (tests/unit/fixtures/go-vectors.json).
 *
 * Zone offsets come from Intl (ICU's tz database; luxon formats RFC 3339). The results depend only
 * on now's local date, so they are memoised for the run of instants that share that date — never
 * keyed by Go's StartOfDay, which can lie before the date begins: the hot path is two comparisons;
 * a new date costs 17 offset lookups of a few µs each.
 */
export const MONTH_MS = 30 * 24 * 60 * 60 * 1000;
const DAY_MS = 24 * 60 * 60 * 1000;

/** The gateway's values for one local date, valid for `now` in [from, to). */
type DayMemo = {
  from: number;
  to: number;
  day: number; // local date as days since 1970-01-01
  startOfDay: number;
  startOfWeek: number;
  nextDailyReset: number;
  nextWeeklyReset: number;
};

const EMPTY: DayMemo = {
  from: 0,
  to: 0,
  day: NaN,
  startOfDay: 0,
  startOfWeek: 0,
  nextDailyReset: 0,
  nextWeeklyReset: 0,
};

/** How many dates a clock remembers (today, tomorrow, next week, and a late op's date). */
const MEMO_DATES = 4;

const offsetFormats = new Map<string, Intl.DateTimeFormat>();
/**
 * A formatter whose output ends in the offset in force: "GMT", "GMT+08:00" or, for old local mean
 * times, "GMT+05:41:16" — one format() call, ten times cheaper than luxon's formatToParts. Shared
 * per zone: constructing one costs about half a millisecond.
 */
function offsetFormat(timeZone: string): Intl.DateTimeFormat {
  let f = offsetFormats.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat("en-US", { timeZone, timeZoneName: "longOffset" });
    offsetFormats.set(timeZone, f);
  }
  return f;
}

export class QuotaClock {
  private readonly offsetFormat: Intl.DateTimeFormat;
  /**
   * The last few dates asked about, newest first: a usage write asks about its own date, the next
   * day and the next week for every op, which a single entry would recompute each time.
   */
  private memos: DayMemo[] = [EMPTY];

  constructor(readonly timeZone: string = "Asia/Shanghai") {
    try {
      this.offsetFormat = offsetFormat(timeZone); // Intl rejects unknown zones, as luxon's isValidZone does
    } catch {
      throw new Error(`invalid time zone: ${timeZone}`);
    }
  }

  /** UTC offset in ms at an instant (whole seconds, as in Go's zone data). */
  private offset(t: number): number {
    const s = this.offsetFormat.format(t);
    const i = s.lastIndexOf("GMT") + 3;
    if (i === s.length) return 0;
    const num = (at: number) => (s.charCodeAt(at) - 48) * 10 + s.charCodeAt(at + 1) - 48;
    const abs = num(i + 1) * 3600 + num(i + 4) * 60 + (s.length > i + 6 ? num(i + 7) : 0);
    return (s.charCodeAt(i) === 45 || s.charCodeAt(i) === 0x2212 ? -abs : abs) * 1000;
  }

  /** The local date of an instant, as days since 1970-01-01. */
  private localDay(t: number): number {
    return Math.floor((t + this.offset(t)) / DAY_MS);
  }

  /** time.Date for a wall clock given as ms since 1970-01-01T00:00 wall time (days and hours already normalised). */
  private date(wall: number): number {
    return wall - this.offset(wall - this.offset(wall));
  }

  /** t.AddDate(0, 0, days): the same wall clock `days` calendar days later, through time.Date. */
  private addDays(t: number, days: number): number {
    return this.date(t + this.offset(t) + days * DAY_MS);
  }

  private memoFor(now: number): DayMemo {
    const memos = this.memos;
    const m = memos[0];
    if (now >= m.from && now < m.to) return m;
    for (let i = 1; i < memos.length; i++) {
      const o = memos[i];
      if (now >= o.from && now < o.to) {
        memos.splice(i, 1);
        memos.unshift(o);
        return o;
      }
    }
    return this.remember(this.compute(now));
  }

  private remember(m: DayMemo): DayMemo {
    this.memos.unshift(m);
    if (this.memos.length > MEMO_DATES) this.memos.pop();
    return m;
  }

  private compute(now: number): DayMemo {
    const m = this.memos[0];
    const day = this.localDay(now);
    const { from, to } = this.dateRun(now, day);
    if (day === m.day) return { ...m, from, to };
    const weekday = ((((day + 3) % 7) + 7) % 7) + 1; // 1970-01-01 was a Thursday (4); Mon = 1 … Sun = 7
    const startOfDay = this.date(day * DAY_MS);
    const startOfWeek = this.date((day - weekday + 1) * DAY_MS);
    return {
      from,
      to,
      day,
      startOfDay,
      startOfWeek,
      nextDailyReset: this.addDays(startOfDay, 1),
      nextWeeklyReset: this.addDays(startOfWeek, 7),
    };
  }

  /**
   * [from, to): the instants around `now` whose local date is `day` — from the first instant of
   * that date to the first instant of a later (or, after a backward jump, other) date. Inside one
   * zone period the wall clock is `t + offset`, so a date starts and ends at local midnight; a
   * period boundary in between is found by bisection (tz data never has two within a day).
   */
  private dateRun(now: number, day: number): { from: number; to: number } {
    let to = now;
    for (let i = 0; i < 8; i++) {
      const off = this.offset(to);
      const midnight = (day + 1) * DAY_MS - off; // > to
      if (this.offset(midnight - 1) === off) {
        to = midnight;
      } else {
        to = this.bisect(to, midnight - 1, (t) => this.offset(t) !== off);
      }
      if (this.localDay(to) !== day) break;
    }
    let from = now;
    for (let i = 0; i < 8; i++) {
      const off = this.offset(from);
      const midnight = day * DAY_MS - off; // <= from
      if (this.offset(midnight) === off) {
        from = midnight;
      } else {
        from = this.bisect(midnight, from, (t) => this.offset(t) === off);
      }
      if (this.localDay(from - 1) !== day) break;
      from -= 1;
    }
    return { from, to };
  }

  /** The first t in (lo, hi] with pred(t), given !pred(lo) and pred(hi) (ms precision). */
  private bisect(lo: number, hi: number, pred: (t: number) => boolean): number {
    while (hi - lo > 1) {
      const mid = Math.floor(lo + (hi - lo) / 2);
      if (pred(mid)) hi = mid;
      else lo = mid;
    }
    return hi;
  }

  /** Go timezone.StartOfDay(now): time.Date(y, m, d, 0, 0, 0, 0, loc) — 23:00 of the day before where midnight does not exist. */
  startOfDay(now: number): number {
    return this.memoFor(now).startOfDay;
  }

  /** Go timezone.StartOfWeek(now): time.Date(y, m, d-weekday+1, 0, 0, 0, 0, loc), Monday = 1, Sunday = 7. */
  startOfWeek(now: number): number {
    return this.memoFor(now).startOfWeek;
  }

  /** Go nextDailyReset(now) = StartOfDay(now).AddDate(0, 0, 1) (23 or 25 h across DST; see the header). */
  nextDailyReset(now: number): number {
    return this.memoFor(now).nextDailyReset;
  }

  /** Go nextWeeklyReset(now) = StartOfWeek(now).AddDate(0, 0, 7). */
  nextWeeklyReset(now: number): number {
    return this.memoFor(now).nextWeeklyReset;
  }

  /**
   * The first instant after `now` of another local date: where startOfDay (and, on a new week,
   * startOfWeek) takes its next value — what the list's "current window" rules compare with. Not
   * nextDailyReset, which can lie before it (see the header).
   */
  dateEnd(now: number): number {
    return this.memoFor(now).to;
  }

  /** Current window start for a window, as the gateway sets it on a reset (monthly = now). */
  currentWindowStart(window: QuotaWindow, now: number): number {
    return window === "daily" ? this.startOfDay(now) : window === "weekly" ? this.startOfWeek(now) : now;
  }

  /** Go's t.In(zone).Format(time.RFC3339): seconds precision, "Z" for a zero offset. */
  formatRfc3339(ms: number): string {
    return formatRfc3339(ms, this.timeZone);
  }

  /**
   * nextMonthlyResetFrom(start, now).Format(time.RFC3339) exactly as the gateway prints it: from
   * `now` (nil or expired start) in the gateway's zone (time.Now() is Local, which the gateway sets
   * to its zone); from a cached start in UTC, because Go reads it with time.Unix(n, 0).UTC().
   */
  monthlyResetAt(start: number | null, now: number): string {
    return monthlyWindowExpired(start, now)
      ? formatRfc3339(now + MONTH_MS, this.timeZone)
      : formatRfc3339((start as number) + MONTH_MS, "UTC");
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
