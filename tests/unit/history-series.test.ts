import { describe, expect, it } from "vitest";

import {
  dayTotals,
  fromUnits,
  isoWeekday,
  itemWindows,
  platformSeries,
  project,
  recentRate,
  sumDecimal,
  toUnits,
  weekToDate,
  windowToDate,
} from "@/lib/quota/history-series";

/** Series shaping and the "at this rate" projection of the usage-history charts (issue 15). */
const DAY = 86_400_000;

describe("exact money", () => {
  it("sums cost strings to the 10th decimal without float error", () => {
    expect(sumDecimal(["0.1", "0.2"])).toBe("0.3000000000"); // 0.1 + 0.2 = 0.30000000000000004 in floats
    expect(sumDecimal(["1.2500000001", "0.0000000009", "-0.25"])).toBe("1.0000000010");
    expect(sumDecimal([])).toBe("0.0000000000");
    expect(fromUnits(toUnits("-3"))).toBe("-3.0000000000");
    expect(() => toUnits("1e3")).toThrow();
  });
});

describe("platformSeries", () => {
  const days = ["2026-11-30", "2026-12-01", "2026-12-02"];
  it("aligns costs to every listed day (missing days are 0), registry order first, then others by name", () => {
    const s = platformSeries(
      days,
      [
        { day: "2026-12-01", platform: "zhipu", cost: "1.5000000000", requests: 3 },
        { day: "2026-12-02", platform: "anthropic", cost: "0.1000000000", requests: 1 },
        { day: "2026-12-02", platform: "grok", cost: "0.2000000000", requests: 1 },
        { day: "2026-11-30", platform: "anthropic", cost: "2.0000000001", requests: 1 },
      ],
      ["openai", "anthropic"],
    );
    expect(s.map((x) => x.platform)).toEqual(["openai", "anthropic", "grok", "zhipu"]);
    expect(s[0].costs).toEqual(["0.0000000000", "0.0000000000", "0.0000000000"]);
    expect(s[1].costs).toEqual(["2.0000000001", "0.0000000000", "0.1000000000"]);
    expect(s[1].values).toEqual([2.0000000001, 0, 0.1]);
    expect(s[1].total).toBe("2.1000000001");
    expect(dayTotals(days, s)).toEqual(["2.0000000001", "1.5000000000", "0.3000000000"]);
  });
});

describe("weekly and 30-day running totals", () => {
  it("ISO weekday of a calendar date, independent of any zone", () => {
    expect(isoWeekday("2026-11-30")).toBe(1); // Monday
    expect(isoWeekday("2026-12-06")).toBe(7); // Sunday
    expect(isoWeekday("2024-02-29")).toBe(4); // leap day, Thursday
  });

  it("week-to-date restarts on Monday (the weekly window's start)", () => {
    const days = ["2026-11-28", "2026-11-29", "2026-11-30", "2026-12-01", "2026-12-02"]; // Sat Sun Mon Tue Wed
    expect(weekToDate(days, [1, 2, 3, 0.1, 0.2])).toEqual([1, 3, 3, 3.1, 3.3]);
  });

  it("30-day window-to-date starts on the quota day holding reset − 30 days, in the quota zone", () => {
    const days = ["2026-11-01", "2026-11-02", "2026-11-03", "2026-11-04"];
    // Reset 2026-12-02T16:30Z → start 2026-11-02T16:30Z = Nov 3, 00:30 in Shanghai, Nov 2 in UTC.
    const reset = "2026-12-02T16:30:00Z";
    expect(windowToDate(days, [1, 2, 4, 8], reset, "Asia/Shanghai")).toEqual([null, null, 4, 12]);
    expect(windowToDate(days, [1, 2, 4, 8], reset, "UTC")).toEqual([null, 2, 6, 14]);
    expect(windowToDate(days, [1, 2, 4, 8], null, "UTC")).toEqual([null, null, null, null]);
    // Started before the first listed day: summed from the first one.
    expect(windowToDate(days, [1, 2, 4, 8], "2026-11-30T00:00:00Z", "UTC")).toEqual([1, 3, 7, 15]);
  });
});

describe("the projection rule", () => {
  it("rate = mean of the 7 finished days before today (today left out; empty days count 0)", () => {
    // 9 days: the oldest is outside the 7, the last (today, 100) is running and left out.
    expect(recentRate([50, 1, 2, 3, 0, 0, 4, 4, 100])).toBe(2);
    expect(recentRate([3, 5, 100])).toBe(4); // fewer finished days: their mean
    expect(recentRate([100])).toBe(0);
  });

  const now = Date.parse("2026-12-03T02:00:00Z"); // Thu 10:00 in Shanghai
  const item = {
    daily_limit_usd: 10,
    daily_usage_usd: 4,
    daily_window_resets_at: "2026-12-04T00:00:00+08:00",
    weekly_limit_usd: 50,
    weekly_usage_usd: 38,
    weekly_window_resets_at: "2026-12-07T00:00:00+08:00",
    monthly_limit_usd: 100,
    monthly_usage_usd: 100,
    monthly_window_resets_at: "2026-12-20T00:00:00+08:00",
  };

  it("reached, reaches at now + remaining / rate, or stays under until the reset", () => {
    const p = project(itemWindows(item), 4, now);
    // daily: 6 left at $4/day → 1.5 days → after the daily reset (14 h away): not reached this window.
    expect(p[0]).toEqual({
      window: "daily",
      limit: 10,
      kind: "resetsFirst",
      resetsAt: Date.parse("2026-12-04T00:00:00+08:00"),
    });
    // weekly: 12 left at $4/day → 3 days → Sun 10:00 Shanghai, before Monday's reset.
    expect(p[1]).toEqual({ window: "weekly", limit: 50, kind: "reaches", at: now + 3 * DAY });
    expect(p[2]).toEqual({ window: "monthly", limit: 100, kind: "reached" });
  });

  it("no limit and a disabled (0) window get no line; no recent spend gets noSpend", () => {
    const p = project(
      itemWindows({ ...item, daily_limit_usd: null, weekly_limit_usd: 0, monthly_usage_usd: 1 }),
      0,
      now,
    );
    expect(p).toEqual([{ window: "monthly", limit: 100, kind: "noSpend" }]);
  });

  it("exactly at the reset instant counts as the reset coming first", () => {
    const p = project([{ window: "weekly", limit: 50, used: 46, resetsAt: new Date(now + DAY).toISOString() }], 4, now);
    expect(p[0].kind).toBe("resetsFirst");
  });
});
