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
  readonly httpStatus = 429;
  readonly type = "rate_limit_exceeded";
  readonly reason: string;
  readonly metadata: { window_resets_at: string };
  constructor(
    readonly window: QuotaWindow,
    windowResetsAt: string,
  ) {
    super(QUOTA_ERRORS[window].message);
    this.name = "QuotaExhaustedError";
    this.reason = QUOTA_ERRORS[window].reason;
    this.metadata = { window_resets_at: windowResetsAt };
  }
}

export class BillingServiceError extends Error {
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
  if (!windowResetsAt) return 60;
  const at = Date.parse(windowResetsAt);
  if (Number.isNaN(at) || at <= now) return 60;
  return Math.ceil((at - now) / 1000);
}

/** The response a gateway sends for a blocked request, Anthropic- or OpenAI-style body. */
export function billingErrorResponse(
  error: QuotaExhaustedError | BillingServiceError,
  style: "anthropic" | "openai",
  now: number = Date.now(),
): { status: number; headers: Record<string, string>; body: unknown } {
  const inner = { type: error.type, message: error.message };
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (error instanceof QuotaExhaustedError)
    headers["Retry-After"] = String(retryAfterSeconds(error.metadata.window_resets_at, now));
  return {
    status: error.httpStatus,
    headers,
    body: style === "anthropic" ? { type: "error", error: inner } : { error: inner },
  };
}
