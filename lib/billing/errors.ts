import type { QuotaWindow } from "./vocabulary";

/**
 * The gateway's billing errors (spec §5.2) and how it turns them into HTTP responses: 429
 * `rate_limit_exceeded` with `Retry-After` for the quota errors, 503 `billing_service_error`
 * for a billing outage (our documented fail-closed mode uses it).
 */
const QUOTA_ERRORS: Record<QuotaWindow, { reason: string; message: string }> = {
  daily: { reason: "USER_PLATFORM_DAILY_QUOTA_EXHAUSTED", message: "Daily usage quota exhausted for this platform." },
  weekly: {
    reason: "USER_PLATFORM_WEEKLY_QUOTA_EXHAUSTED",
    message: "Weekly usage quota exhausted for this platform.",
  },
  monthly: {
    reason: "USER_PLATFORM_MONTHLY_QUOTA_EXHAUSTED",
    message: "Monthly usage quota exhausted for this platform.",
  },
};

export class QuotaExhaustedError extends Error {
  readonly kind = "quota-exhausted";
  readonly httpStatus = 429;
  readonly type = "rate_limit_exceeded";
  readonly reason: string;
  readonly metadata: { window_resets_at: string };
  /**
   * The instant `window_resets_at` names, in epoch ms (whole seconds, as the RFC 3339 text has them;
   * null if that text is not a date), so Retry-After needs no string round trip.
   */
  readonly resetsAtMs: number | null;
  constructor(
    readonly window: QuotaWindow,
    windowResetsAt: string,
    resetsAtMs?: number,
  ) {
    super(QUOTA_ERRORS[window].message);
    this.name = "QuotaExhaustedError";
    this.reason = QUOTA_ERRORS[window].reason;
    this.metadata = { window_resets_at: windowResetsAt };
    const at = resetsAtMs === undefined ? Date.parse(windowResetsAt) : Math.floor(resetsAtMs / 1000) * 1000;
    this.resetsAtMs = Number.isNaN(at) ? null : at;
  }
}

export class BillingServiceError extends Error {
  readonly kind = "billing-unavailable";
  readonly httpStatus = 503;
  readonly type = "billing_service_error";
  readonly reason = "BILLING_SERVICE_ERROR";
  constructor(message = "Billing service temporarily unavailable. Please retry later.") {
    super(message);
    this.name = "BillingServiceError";
  }
}

/** ceil(seconds until window_resets_at); 60 when missing, unparsable or already past (gateway rule). */
export function retryAfterSeconds(windowResetsAt: string | undefined | null, now: number = Date.now()): number {
  return retryAfterFromMs(windowResetsAt ? Date.parse(windowResetsAt) : null, now);
}

/** retryAfterSeconds for an instant already in epoch ms (null or NaN: unknown). */
export function retryAfterFromMs(resetsAtMs: number | null, now: number = Date.now()): number {
  if (resetsAtMs === null || Number.isNaN(resetsAtMs) || resetsAtMs <= now) return 60;
  return Math.ceil((resetsAtMs - now) / 1000);
}

/** The response a gateway sends for a blocked request, Anthropic- or OpenAI-style body. */
export function billingErrorResponse(
  error: QuotaExhaustedError | BillingServiceError,
  style: "anthropic" | "openai",
  now: number = Date.now(),
): { status: number; headers: Record<string, string>; body: unknown } {
  const inner = { type: error.type, message: error.message };
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (error.kind === "quota-exhausted") headers["Retry-After"] = String(retryAfterFromMs(error.resetsAtMs, now));
  return {
    status: error.httpStatus,
    headers,
    body: style === "anthropic" ? { type: "error", error: inner } : { error: inner },
  };
}
