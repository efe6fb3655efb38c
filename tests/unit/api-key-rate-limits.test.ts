import { describe, expect, it } from "vitest";

import { evaluateApiKeyRateLimits, type ApiKeyRateLimitCacheData } from "@/lib/billing/api-key-rate-cache";

const NOW_S = 1_750_000_000;
const NOW_MS = NOW_S * 1000;
const H = 3600;

/** All three windows started 1 h ago (live) with the given usage. */
function live(
  usage: Partial<Pick<ApiKeyRateLimitCacheData, "usage5h" | "usage1d" | "usage7d">> = {},
): ApiKeyRateLimitCacheData {
  return {
    usage5h: 0,
    usage1d: 0,
    usage7d: 0,
    window5h: NOW_S - H,
    window1d: NOW_S - H,
    window7d: NOW_S - H,
    ...usage,
  };
}
const noLimits = { limit5h: 0, limit1d: 0, limit7d: 0 };

describe("evaluateApiKeyRateLimits (gateway evaluateRateLimits)", () => {
  it("allows live windows under their limits", () => {
    expect(
      evaluateApiKeyRateLimits(
        live({ usage5h: 0.99, usage1d: 5, usage7d: 9 }),
        { limit5h: 1, limit1d: 10, limit7d: 10 },
        NOW_MS,
      ),
    ).toEqual({
      expired: false,
      exceeded: null,
    });
  });

  it("rejects at usage == limit (>=), not only above it", () => {
    expect(
      evaluateApiKeyRateLimits(live({ usage1d: 10 }), { limit5h: 0, limit1d: 10, limit7d: 0 }, NOW_MS).exceeded,
    ).toBe("API_KEY_RATE_1D_EXCEEDED");
  });

  it("checks 5h, then 1d, then 7d", () => {
    const all = live({ usage5h: 100, usage1d: 100, usage7d: 100 });
    expect(evaluateApiKeyRateLimits(all, { limit5h: 1, limit1d: 1, limit7d: 1 }, NOW_MS).exceeded).toBe(
      "API_KEY_RATE_5H_EXCEEDED",
    );
    expect(evaluateApiKeyRateLimits(all, { limit5h: 0, limit1d: 1, limit7d: 1 }, NOW_MS).exceeded).toBe(
      "API_KEY_RATE_1D_EXCEEDED",
    );
    expect(evaluateApiKeyRateLimits(all, { limit5h: 0, limit1d: 0, limit7d: 1 }, NOW_MS).exceeded).toBe(
      "API_KEY_RATE_7D_EXCEEDED",
    );
  });

  it("ignores a limit of 0 (or negative) even with huge usage", () => {
    const all = live({ usage5h: 1e9, usage1d: 1e9, usage7d: 1e9 });
    expect(evaluateApiKeyRateLimits(all, noLimits, NOW_MS)).toEqual({ expired: false, exceeded: null });
    expect(evaluateApiKeyRateLimits(all, { limit5h: -1, limit1d: -1, limit7d: -1 }, NOW_MS).exceeded).toBeNull();
  });

  it("treats window 0 as never started: expired, usage counted as 0", () => {
    const data = { ...live({ usage5h: 50 }), window5h: 0 };
    expect(evaluateApiKeyRateLimits(data, { limit5h: 1, limit1d: 0, limit7d: 0 }, NOW_MS)).toEqual({
      expired: true,
      exceeded: null,
    });
  });

  it("expires a window exactly at its length (>=), not one millisecond earlier", () => {
    const data = { ...live({ usage5h: 50 }), window5h: NOW_S - 5 * H };
    const limits = { limit5h: 1, limit1d: 0, limit7d: 0 };
    expect(evaluateApiKeyRateLimits(data, limits, NOW_MS)).toEqual({ expired: true, exceeded: null });
    expect(evaluateApiKeyRateLimits(data, limits, NOW_MS - 1)).toEqual({
      expired: false,
      exceeded: "API_KEY_RATE_5H_EXCEEDED",
    });
  });

  it("uses each window's own length: 1d and 7d boundaries", () => {
    const at = (window1d: number, window7d: number) => ({ ...live(), window1d, window7d });
    expect(evaluateApiKeyRateLimits(at(NOW_S - 24 * H, NOW_S - H), noLimits, NOW_MS).expired).toBe(true);
    expect(evaluateApiKeyRateLimits(at(NOW_S - 24 * H + 1, NOW_S - H), noLimits, NOW_MS).expired).toBe(false);
    expect(evaluateApiKeyRateLimits(at(NOW_S - H, NOW_S - 7 * 24 * H), noLimits, NOW_MS).expired).toBe(true);
    expect(evaluateApiKeyRateLimits(at(NOW_S - H, NOW_S - 7 * 24 * H + 1), noLimits, NOW_MS).expired).toBe(false);
  });

  it("reports expiry and still rejects on another live window that is over its limit", () => {
    const data = { ...live({ usage5h: 50, usage1d: 7 }), window5h: NOW_S - 6 * H };
    expect(evaluateApiKeyRateLimits(data, { limit5h: 1, limit1d: 7, limit7d: 0 }, NOW_MS)).toEqual({
      expired: true,
      exceeded: "API_KEY_RATE_1D_EXCEEDED",
    });
  });

  it("treats a negative window start like nil (Go only builds a time for window > 0)", () => {
    const data = { ...live({ usage7d: 50 }), window7d: -5 };
    expect(evaluateApiKeyRateLimits(data, { limit5h: 0, limit1d: 0, limit7d: 1 }, NOW_MS)).toEqual({
      expired: true,
      exceeded: null,
    });
  });
});
