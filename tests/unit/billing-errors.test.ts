import { describe, expect, it } from "vitest";

import {
  billingErrorResponse,
  BillingServiceError,
  QuotaExhaustedError,
  retryAfterSeconds,
} from "@/lib/billing/errors";

const now = Date.parse("2026-11-25T10:00:00Z");

describe("Retry-After (gateway extractQuotaResetSeconds)", () => {
  it("is ceil(seconds until the reset)", () => {
    expect(retryAfterSeconds("2026-11-25T10:00:10Z", now)).toBe(10);
    expect(retryAfterSeconds("2026-11-25T10:00:10Z", now - 1)).toBe(11);
    expect(retryAfterSeconds("2026-11-26T00:00:00+08:00", now)).toBe(6 * 3600); // 10:00Z is 18:00 in Beijing
  });

  it("falls back to 60 when missing, unparsable or already past", () => {
    expect(retryAfterSeconds(undefined, now)).toBe(60);
    expect(retryAfterSeconds("", now)).toBe(60);
    expect(retryAfterSeconds("tomorrow", now)).toBe(60);
    expect(retryAfterSeconds("2026-11-25T09:59:59Z", now)).toBe(60);
    expect(retryAfterSeconds("2026-11-25T10:00:00Z", now)).toBe(60);
  });
});

describe("quota errors and the gateway's HTTP answer", () => {
  it.each([
    ["daily", "USER_PLATFORM_DAILY_QUOTA_EXHAUSTED", "Daily usage quota exhausted for this platform."],
    ["weekly", "USER_PLATFORM_WEEKLY_QUOTA_EXHAUSTED", "Weekly usage quota exhausted for this platform."],
    ["monthly", "USER_PLATFORM_MONTHLY_QUOTA_EXHAUSTED", "Monthly usage quota exhausted for this platform."],
  ] as const)("%s → %s", (window, reason, message) => {
    const e = new QuotaExhaustedError(window, "2026-11-25T11:00:00Z");
    expect(e).toMatchObject({
      reason,
      message,
      httpStatus: 429,
      type: "rate_limit_exceeded",
      metadata: { window_resets_at: "2026-11-25T11:00:00Z" },
    });
    expect(billingErrorResponse(e, "anthropic", now)).toEqual({
      status: 429,
      headers: { "Content-Type": "application/json", "Retry-After": "3600" },
      body: { type: "error", error: { type: "rate_limit_exceeded", message } },
    });
    // The reason code stays out of the body (spec §5.2), as in the gateway.
    expect(JSON.stringify(billingErrorResponse(e, "openai", now).body)).toBe(
      JSON.stringify({ error: { type: "rate_limit_exceeded", message } }),
    );
  });

  it("fail-closed outage → 503 billing_service_error without Retry-After", () => {
    const r = billingErrorResponse(new BillingServiceError(), "openai", now);
    expect(r.status).toBe(503);
    expect(r.headers["Retry-After"]).toBeUndefined();
    expect(r.body).toMatchObject({ error: { type: "billing_service_error" } });
  });
});
