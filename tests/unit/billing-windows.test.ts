import { IANAZone } from "luxon";
import { describe, expect, it } from "vitest";

import {
  cacheWindowExpired,
  dbWindowExpired,
  formatRfc3339,
  MONTH_MS,
  monthlyWindowExpired,
  nextMonthlyResetFrom,
  QuotaClock,
  readMonthlyExpired,
  readWindowExpired,
} from "@/lib/billing/windows";

import { goVectors, type TimeVector } from "./fixtures/go-vectors";

const t = (iso: string) => Date.parse(iso);
const sh = new QuotaClock("Asia/Shanghai");

describe("calendar windows in Asia/Shanghai (+08:00, no DST)", () => {
  it("23:00 UTC already counts as the next Beijing day", () => {
    expect(sh.startOfDay(t("2026-11-27T23:00:00Z"))).toBe(t("2026-11-28T00:00:00+08:00"));
    expect(sh.startOfDay(t("2026-11-27T15:59:59.999Z"))).toBe(t("2026-11-27T00:00:00+08:00"));
    expect(sh.startOfDay(t("2026-11-27T16:00:00Z"))).toBe(t("2026-11-28T00:00:00+08:00"));
    expect(sh.nextDailyReset(t("2026-11-27T23:00:00Z"))).toBe(t("2026-11-29T00:00:00+08:00"));
  });

  it("Friday, Sunday and Monday map to Monday 00:00 (Sunday is day 7)", () => {
    const monday = t("2026-11-23T00:00:00+08:00");
    expect(sh.startOfWeek(t("2026-11-27T12:00:00+08:00"))).toBe(monday); // Friday
    expect(sh.startOfWeek(t("2026-11-29T23:59:59+08:00"))).toBe(monday); // Sunday night
    expect(sh.startOfWeek(t("2026-11-23T00:00:00+08:00"))).toBe(monday); // Monday 00:00
    expect(sh.startOfWeek(t("2026-11-29T16:00:00Z"))).toBe(t("2026-11-30T00:00:00+08:00")); // Sun 16:00 UTC = Mon
    expect(sh.nextWeeklyReset(t("2026-11-27T12:00:00+08:00"))).toBe(t("2026-11-30T00:00:00+08:00"));
  });

  it("month ends and leap days are ordinary calendar days", () => {
    expect(sh.startOfDay(t("2028-02-29T10:00:00+08:00"))).toBe(t("2028-02-29T00:00:00+08:00"));
    expect(sh.nextDailyReset(t("2028-02-29T10:00:00+08:00"))).toBe(t("2028-03-01T00:00:00+08:00"));
    expect(sh.nextDailyReset(t("2026-12-31T23:30:00+08:00"))).toBe(t("2027-01-01T00:00:00+08:00"));
    expect(sh.startOfWeek(t("2027-01-01T00:00:00+08:00"))).toBe(t("2026-12-28T00:00:00+08:00"));
  });

  it("memoised intervals never leak across a boundary", () => {
    const c = new QuotaClock("Asia/Shanghai");
    const before = t("2026-11-27T15:59:59.999Z");
    expect(c.startOfDay(before)).toBe(t("2026-11-27T00:00:00+08:00"));
    expect(c.startOfDay(before + 1)).toBe(t("2026-11-28T00:00:00+08:00"));
    expect(c.startOfDay(before)).toBe(t("2026-11-27T00:00:00+08:00"));
  });

  it("formats reset instants like Go's RFC3339 in the zone", () => {
    expect(sh.formatRfc3339(t("2026-11-28T00:00:00+08:00"))).toBe("2026-11-28T00:00:00+08:00");
    expect(formatRfc3339(t("2026-12-27T05:06:07.890Z"), "UTC")).toBe("2026-12-27T05:06:07Z");
  });
});

describe("a DST-observing zone (America/New_York)", () => {
  const ny = new QuotaClock("America/New_York");
  it("spring forward: the day is 23 h and the next reset is the next local midnight", () => {
    const noon = t("2026-03-08T12:00:00-04:00");
    expect(ny.startOfDay(noon)).toBe(t("2026-03-08T00:00:00-05:00"));
    expect(ny.nextDailyReset(noon)).toBe(t("2026-03-09T00:00:00-04:00"));
    expect(ny.nextDailyReset(noon) - ny.startOfDay(noon)).toBe(23 * 3600_000);
    expect(ny.formatRfc3339(ny.nextDailyReset(noon))).toBe("2026-03-09T00:00:00-04:00");
  });

  it("fall back: the day is 25 h; the week still starts Monday 00:00 local", () => {
    const noon = t("2026-11-01T12:00:00-05:00");
    expect(ny.startOfDay(noon)).toBe(t("2026-11-01T00:00:00-04:00"));
    expect(ny.nextDailyReset(noon) - ny.startOfDay(noon)).toBe(25 * 3600_000);
    expect(ny.startOfWeek(noon)).toBe(t("2026-10-26T00:00:00-04:00"));
    expect(ny.nextWeeklyReset(noon)).toBe(t("2026-11-02T00:00:00-05:00"));
  });

  it("rejects an unknown zone", () => {
    expect(() => new QuotaClock("Mars/Olympus")).toThrow(/invalid time zone/);
  });
});

describe("Go's time.Date where midnight does not exist (the gateway's arithmetic, ported as is)", () => {
  it("America/Havana 2026-03-08: the day starts at 23:00 the evening before, and the next reset keeps 23:00", () => {
    const hav = new QuotaClock("America/Havana");
    const morning = t("2026-03-08T10:00:00-04:00");
    expect(hav.startOfDay(morning)).toBe(t("2026-03-07T23:00:00-05:00"));
    expect(hav.nextDailyReset(morning)).toBe(t("2026-03-08T23:00:00-04:00")); // AddDate keeps the 23:00 wall clock
    expect(hav.formatRfc3339(hav.nextDailyReset(morning))).toBe("2026-03-08T23:00:00-04:00");
    // …so late that evening Go's next daily reset already lies in the past.
    const late = t("2026-03-08T23:30:00-04:00");
    expect(hav.nextDailyReset(late)).toBeLessThan(late);
    // The day before ends at the real midnight (01:00 -04:00) and resets "at" 23:00 the same evening.
    const eve = t("2026-03-07T23:30:00-05:00");
    expect(hav.startOfDay(eve)).toBe(t("2026-03-07T00:00:00-05:00"));
    expect(hav.nextDailyReset(eve)).toBe(t("2026-03-07T23:00:00-05:00"));
  });

  it("America/Sao_Paulo 2018-11-04: StartOfDay = 2018-11-03 23:00 -03:00", () => {
    const sp = new QuotaClock("America/Sao_Paulo");
    const noon = t("2018-11-04T12:00:00-02:00");
    expect(sp.startOfDay(noon)).toBe(t("2018-11-03T23:00:00-03:00"));
    expect(sp.formatRfc3339(sp.startOfDay(noon))).toBe("2018-11-03T23:00:00-03:00");
  });

  it("memoises by local date, not by Go's start of day (which can lie before the date begins)", () => {
    const hav = new QuotaClock("America/Havana");
    const morning = t("2026-03-08T10:00:00-04:00");
    const eve = t("2026-03-07T23:30:00-05:00"); // after Go's StartOfDay of 03-08, but still 03-07
    expect(hav.startOfDay(morning)).toBe(t("2026-03-07T23:00:00-05:00"));
    expect(hav.startOfDay(eve)).toBe(t("2026-03-07T00:00:00-05:00"));
    expect(hav.startOfDay(t("2026-03-07T23:59:59.999-05:00"))).toBe(t("2026-03-07T00:00:00-05:00")); // last ms of 03-07
    expect(hav.startOfDay(t("2026-03-08T01:00:00-04:00"))).toBe(t("2026-03-07T23:00:00-05:00")); // first ms of 03-08
  });

  it("Pacific/Apia skipped 2011-12-30: Thursday the 29th is followed by Saturday the 31st", () => {
    const apia = new QuotaClock("Pacific/Apia");
    const sat = t("2011-12-31T12:00:00+14:00");
    expect(apia.startOfDay(sat)).toBe(t("2011-12-31T00:00:00+14:00"));
    expect(apia.startOfWeek(sat)).toBe(t("2011-12-26T00:00:00-10:00"));
    expect(apia.startOfDay(t("2011-12-29T23:59:59-10:00"))).toBe(t("2011-12-29T00:00:00-10:00"));
  });
});

describe("QuotaClock against real Go (tests/unit/fixtures/go-vectors.json)", () => {
  const { time: vectors, tzdata, go } = goVectors();
  const byZone = new Map<string, TimeVector[]>();
  for (const v of vectors) byZone.set(v.zone, [...(byZone.get(v.zone) ?? []), v]);

  /** Why a vector cannot be checked here: Node's tz database disagrees with Go's about an offset Go used. */
  function tzdataDifference(v: TimeVector): string | null {
    const zone = IANAZone.create(v.zone);
    for (const [unix, goOffset] of v.probes) {
      const nodeOffset = Math.round(zone.offset(unix * 1000) * 60);
      if (nodeOffset !== goOffset) {
        return `${v.zone} at ${new Date(unix * 1000).toISOString()}: Go (tzdata ${tzdata}) offset ${goOffset} s, Node (ICU tz ${process.versions.tz}) ${nodeOffset} s`;
      }
    }
    return null;
  }

  it.each([...byZone.keys()])("%s: every vector, in order, shuffled and on a fresh clock", (zone) => {
    const list = byZone.get(zone)!;
    const checkable = list.filter((v) => {
      const why = tzdataDifference(v);
      if (why) console.warn(`skipped vector now=${v.now} (${go}): ${why}`);
      return why === null;
    });
    expect(checkable.length).toBeGreaterThan(list.length / 2);
    let seed = 11;
    const shuffled = [...checkable];
    for (let i = shuffled.length - 1; i > 0; i--) {
      seed = (seed * 16807) % 2147483647;
      const j = seed % (i + 1);
      [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
    }
    const shared = new QuotaClock(zone);
    for (const order of [checkable, shuffled]) {
      for (const v of order) {
        for (const clock of [shared, new QuotaClock(zone)]) {
          const at = `${zone} now=${new Date(v.now).toISOString()}`;
          expect(clock.startOfDay(v.now), at).toBe(v.startOfDay);
          expect(clock.startOfWeek(v.now), at).toBe(v.startOfWeek);
          expect(clock.nextDailyReset(v.now), at).toBe(v.nextDailyReset);
          expect(clock.nextWeeklyReset(v.now), at).toBe(v.nextWeeklyReset);
          expect(clock.currentWindowStart("daily", v.now), at).toBe(v.startOfDay);
          expect(clock.currentWindowStart("weekly", v.now), at).toBe(v.startOfWeek);
          expect(clock.formatRfc3339(clock.nextDailyReset(v.now)), at).toBe(v.nextDailyResetRfc3339);
          expect(clock.formatRfc3339(clock.nextWeeklyReset(v.now)), at).toBe(v.nextWeeklyResetRfc3339);
          expect(clock.monthlyResetAt(null, v.now), at).toBe(v.nowPlus30dRfc3339);
        }
      }
    }
  });

  it("a memoised date never leaks across its boundaries (every ms around each vector's boundaries)", () => {
    for (const [zone, list] of byZone) {
      const shared = new QuotaClock(zone);
      for (const v of list.filter((x) => tzdataDifference(x) === null)) {
        for (const d of [-2, -1, 0, 1, 2]) {
          for (const at of [v.now + d, v.startOfDay + d, v.nextDailyReset + d]) {
            expect(shared.startOfDay(at), `${zone} ${at}`).toBe(new QuotaClock(zone).startOfDay(at));
          }
        }
      }
    }
  });
});

describe("monthlyResetAt = nextMonthlyResetFrom(start, now).Format(time.RFC3339)", () => {
  it("from now (nil or expired start): the gateway's zone; from a cached start: UTC", () => {
    const now = t("2026-11-27T12:00:00+08:00");
    expect(sh.monthlyResetAt(null, now)).toBe("2026-12-27T12:00:00+08:00");
    expect(sh.monthlyResetAt(now - MONTH_MS, now)).toBe("2026-12-27T12:00:00+08:00"); // expired at exactly 30 d
    expect(sh.monthlyResetAt(t("2026-11-20T00:00:00Z"), now)).toBe("2026-12-20T00:00:00Z");
    expect(sh.monthlyResetAt(null, now + 999)).toBe("2026-12-27T12:00:00+08:00"); // seconds precision, truncated
    const ny = new QuotaClock("America/New_York");
    // now + 720 h crosses the DST change: printed with the offset in force then.
    expect(ny.monthlyResetAt(null, t("2026-10-20T12:00:00-04:00"))).toBe("2026-11-19T11:00:00-05:00");
  });
});

describe("expiry rules (spec §4.3)", () => {
  const now = t("2026-11-27T12:00:00+08:00");
  const sod = sh.startOfDay(now);

  it("cache/pre-request: nil or strictly before the start; a later start (reset to now) is live", () => {
    expect(cacheWindowExpired(null, sod)).toBe(true);
    expect(cacheWindowExpired(sod - 1000, sod)).toBe(true);
    expect(cacheWindowExpired(sod, sod)).toBe(false);
    expect(cacheWindowExpired(sod + 3600_000, sod)).toBe(false);
  });

  it("DB increment: anything but the exact start is expired", () => {
    expect(dbWindowExpired(null, sod)).toBe(true);
    expect(dbWindowExpired(sod, sod)).toBe(false);
    expect(dbWindowExpired(sod + 3600_000, sod)).toBe(true);
  });

  it("read APIs: a nil start is not expired", () => {
    expect(readWindowExpired(null, sod)).toBe(false);
    expect(readWindowExpired(sod - 1, sod)).toBe(true);
    expect(readMonthlyExpired(null, now)).toBe(false);
    expect(readMonthlyExpired(now - MONTH_MS, now)).toBe(true);
  });

  it("monthly: exactly 30 d → expired, 30 d − 1 ms → live, nil → expired; month boundaries are irrelevant", () => {
    const start = t("2026-10-28T12:00:00Z");
    expect(monthlyWindowExpired(start, start + MONTH_MS)).toBe(true);
    expect(monthlyWindowExpired(start, start + MONTH_MS - 1)).toBe(false);
    expect(monthlyWindowExpired(start, start + 29 * 86400_000)).toBe(false);
    expect(monthlyWindowExpired(null, now)).toBe(true);
    expect(monthlyWindowExpired(t("2026-01-25T00:00:00Z"), t("2026-02-05T00:00:00Z"))).toBe(false); // 11 d across months
    expect(monthlyWindowExpired(t("2026-02-28T00:00:00Z"), t("2026-03-30T00:00:01Z"))).toBe(true);
    expect(monthlyWindowExpired(t("2025-12-15T00:00:00Z"), t("2026-01-14T00:00:01Z"))).toBe(true);
  });

  it("next monthly reset: start + 30 d, else now + 30 d (never now, never in the past)", () => {
    const start = t("2026-11-20T00:00:00Z");
    expect(nextMonthlyResetFrom(start, now)).toBe(start + MONTH_MS);
    expect(nextMonthlyResetFrom(start, now + 3600_000)).toBe(start + MONTH_MS); // does not drift with now
    expect(nextMonthlyResetFrom(null, now)).toBe(now + MONTH_MS);
    expect(nextMonthlyResetFrom(now - MONTH_MS - 1, now)).toBe(now + MONTH_MS);
  });
});
