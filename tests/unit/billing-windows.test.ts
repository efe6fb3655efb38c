import { describe, expect, it } from "vitest";
import {
  cacheWindowExpired,
  dbWindowExpired,
  formatRfc3339,
  monthlyWindowExpired,
  MONTH_MS,
  nextMonthlyResetFrom,
  QuotaClock,
  readMonthlyExpired,
  readWindowExpired,
} from "@/lib/billing/windows";

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
