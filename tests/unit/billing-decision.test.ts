import { describe, expect, it } from "vitest";

import { decideQuota, entryFromRow, sentinelEntry, windowsToRefresh, withPendingCosts } from "@/lib/billing/decision";
import { billingErrorResponse, retryAfterSeconds } from "@/lib/billing/errors";
import type { QuotaCacheEntry } from "@/lib/billing/quota-cache";
import type { QuotaRow } from "@/lib/billing/quota-repo";
import { MONTH_MS, QuotaClock } from "@/lib/billing/windows";

/** The pure core of the eligibility check (spec §5.2), as both sides must decide it. */
const t = (iso: string) => Date.parse(iso);
const sh = new QuotaClock("Asia/Shanghai");
const NOW = t("2026-11-25T10:00:00+08:00"); // Wednesday
const SOD = t("2026-11-25T00:00:00+08:00");
const SOW = t("2026-11-23T00:00:00+08:00");

const entry = (over: Partial<QuotaCacheEntry> = {}): QuotaCacheEntry => ({
  dailyUsage: 0,
  weeklyUsage: 0,
  monthlyUsage: 0,
  version: 0,
  schemaVersion: 1,
  dailyLimit: null,
  weeklyLimit: null,
  monthlyLimit: null,
  dailyWindowStart: SOD,
  weeklyWindowStart: SOW,
  monthlyWindowStart: NOW - 86400_000,
  ...over,
});

const row = (over: Partial<QuotaRow> = {}): QuotaRow => ({
  id: 1,
  userId: 7,
  platform: "anthropic",
  dailyLimit: 10,
  weeklyLimit: 100,
  monthlyLimit: 1000,
  dailyUsage: 3,
  weeklyUsage: 30,
  monthlyUsage: 300,
  dailyWindowStart: SOD,
  weeklyWindowStart: SOW,
  monthlyWindowStart: NOW - 86400_000,
  createdAt: 0,
  updatedAt: 0,
  ...over,
});

describe("decideQuota: daily → weekly → monthly, usage >= limit blocks", () => {
  it("allows under every limit, blocks at equality, in window order", () => {
    expect(decideQuota(entry({ dailyLimit: 10, dailyUsage: 9.99 }), sh, NOW)).toBeNull();
    const e = decideQuota(entry({ dailyLimit: 5, dailyUsage: 5, weeklyLimit: 1, weeklyUsage: 9 }), sh, NOW);
    expect(e?.reason).toBe("USER_PLATFORM_DAILY_QUOTA_EXHAUSTED");
    expect(e?.metadata.window_resets_at).toBe("2026-11-26T00:00:00+08:00");
    expect(decideQuota(entry({ weeklyLimit: 1, weeklyUsage: 1 }), sh, NOW)?.metadata.window_resets_at).toBe(
      "2026-11-30T00:00:00+08:00",
    );
  });

  it("null = unlimited, 0 = disabled from the first request, NaN never blocks (as in Go)", () => {
    expect(decideQuota(entry({ dailyUsage: 999 }), sh, NOW)).toBeNull();
    expect(decideQuota(entry({ monthlyLimit: 0 }), sh, NOW)?.window).toBe("monthly");
    expect(decideQuota(entry({ dailyLimit: NaN, dailyUsage: 1e9 }), sh, NOW)).toBeNull();
  });

  it("an expired window counts as 0: yesterday's start, or a monthly start 30 d ago (inclusive)", () => {
    expect(decideQuota(entry({ dailyLimit: 1, dailyUsage: 5, dailyWindowStart: SOD - 1 }), sh, NOW)).toBeNull();
    expect(
      decideQuota(entry({ monthlyLimit: 1, monthlyUsage: 5, monthlyWindowStart: NOW - MONTH_MS }), sh, NOW),
    ).toBeNull();
    expect(
      decideQuota(entry({ monthlyLimit: 1, monthlyUsage: 5, monthlyWindowStart: NOW - MONTH_MS + 1 }), sh, NOW)?.window,
    ).toBe("monthly");
  });

  it("monthly resets_at: start + 30 d in UTC from a start, now + 30 d in the quota zone from now (as Go prints them)", () => {
    const fromStart = decideQuota(
      entry({ monthlyLimit: 1, monthlyUsage: 1, monthlyWindowStart: t("2026-11-20T08:15:30Z") }),
      sh,
      NOW,
    );
    expect(fromStart?.metadata.window_resets_at).toBe("2026-12-20T08:15:30Z");
    const fromNow = decideQuota(
      row({ dailyLimit: null, weeklyLimit: null, monthlyLimit: 0, monthlyWindowStart: null }),
      sh,
      NOW,
    );
    expect(fromNow?.metadata.window_resets_at).toBe("2026-12-25T10:00:00+08:00");
  });

  it("resetsAtMs is the instant window_resets_at names (whole seconds), so Retry-After needs no parsing", () => {
    const at = NOW + 123; // a `now` with milliseconds: the monthly reset from now is printed to the second
    for (const e of [
      entry({ dailyLimit: 1, dailyUsage: 1 }),
      entry({ weeklyLimit: 1, weeklyUsage: 1 }),
      entry({ monthlyLimit: 1, monthlyUsage: 1, monthlyWindowStart: t("2026-11-20T08:15:30Z") }),
      entry({ monthlyLimit: 0, monthlyWindowStart: null }),
    ]) {
      const err = decideQuota(e, sh, at)!;
      expect(err.resetsAtMs).toBe(Date.parse(err.metadata.window_resets_at));
      expect(billingErrorResponse(err, "openai", at).headers["Retry-After"]).toBe(
        String(retryAfterSeconds(err.metadata.window_resets_at, at)),
      );
    }
  });

  it("given the expired windows already computed (windowsToRefresh), decides exactly as without them", () => {
    const starts = [null, SOD - 1, SOD, SOW - 1, NOW - MONTH_MS, NOW - MONTH_MS + 1, NOW - 86400_000];
    const limits = [null, 0, 1, 5];
    for (const ds of starts)
      for (const ms of starts)
        for (const l of limits) {
          const e = entry({
            dailyLimit: l,
            weeklyLimit: l === null ? 2 : null,
            monthlyLimit: l,
            dailyUsage: 3,
            weeklyUsage: 3,
            monthlyUsage: 3,
            dailyWindowStart: ds,
            weeklyWindowStart: ds,
            monthlyWindowStart: ms,
          });
          const plain = decideQuota(e, sh, NOW);
          const given = decideQuota(e, sh, NOW, windowsToRefresh(e, sh, NOW));
          expect(given?.window ?? null).toBe(plain?.window ?? null);
          expect(given?.metadata).toEqual(plain?.metadata);
        }
  });
});

describe("entryFromRow: a rebuild never loses live usage (better than upstream)", () => {
  it("keeps live windows' usage and start; expired ones get 0 and the current start", () => {
    const e = entryFromRow(row({ dailyWindowStart: SOD - 86400_000, monthlyWindowStart: null }), sh, NOW);
    expect(e).toMatchObject({
      dailyUsage: 0,
      dailyWindowStart: SOD,
      weeklyUsage: 30,
      weeklyWindowStart: SOW,
      monthlyUsage: 0,
      monthlyWindowStart: NOW,
      dailyLimit: 10,
      schemaVersion: 1,
      version: 0,
    });
  });

  it("the sentinel has no limits, zero usage and every window set", () => {
    expect(sentinelEntry(sh, NOW)).toMatchObject({
      dailyLimit: null,
      weeklyLimit: null,
      monthlyLimit: null,
      dailyUsage: 0,
      dailyWindowStart: SOD,
      weeklyWindowStart: SOW,
      monthlyWindowStart: NOW,
    });
  });
});

describe("windowsToRefresh (spec §4.4)", () => {
  it("lists exactly the expired windows with the start it saw and the new one", () => {
    const stale = t("2020-01-01T00:00:00Z");
    expect(windowsToRefresh(entry({ dailyLimit: 1, dailyWindowStart: stale }), sh, NOW)).toEqual([
      { window: "daily", seenStart: stale, newStart: SOD },
    ]);
    expect(windowsToRefresh(entry({ dailyLimit: 1 }), sh, NOW)).toEqual([]);
  });

  it("never refreshes a sentinel-like entry (its short TTL must not be upgraded)", () => {
    expect(
      windowsToRefresh(entry({ dailyWindowStart: null, weeklyWindowStart: null, monthlyWindowStart: null }), sh, NOW),
    ).toEqual([]);
  });
});

describe("withPendingCosts (flusher mode, Redis down: replays waiting in the outbox)", () => {
  it("adds each pending cost to the windows it was recorded in", () => {
    const e = entry({
      dailyUsage: 1,
      weeklyUsage: 2,
      monthlyUsage: 3,
      dailyLimit: 2,
      monthlyWindowStart: SOW - 86400_000,
    });
    const out = withPendingCosts(e, [
      { at: SOD + 1000, cost: 0.5 }, // today: all three windows
      { at: SOW + 1000, cost: 0.25 }, // Monday: this week and the rolling month, not today
      { at: SOW - 3600_000, cost: 4 }, // last Sunday 23:00: only the rolling month
      { at: SOW - 2 * 86400_000, cost: 8 }, // before the month's start: none
    ]);
    expect([out.dailyUsage, out.weeklyUsage, out.monthlyUsage]).toEqual([1.5, 2.75, 7.75]);
    expect(decideQuota(out, sh, NOW)).toBeNull(); // 1.5 < 2
    expect(decideQuota(withPendingCosts(out, [{ at: NOW, cost: 0.5 }]), sh, NOW)?.window).toBe("daily"); // 2 >= 2
  });

  it("ignores costs that are not finite and positive, and returns the entry itself when nothing is pending", () => {
    const e = entry({ dailyUsage: 1 });
    expect(withPendingCosts(e, [])).toBe(e);
    expect(
      withPendingCosts(e, [
        { at: NOW, cost: Number.NaN },
        { at: NOW, cost: -1 },
        { at: NOW, cost: Infinity },
      ]).dailyUsage,
    ).toBe(1);
  });
});
