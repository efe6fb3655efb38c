/**
 * The public surface of lib/billing: what a Node service (the console, a gateway, a worker) imports
 * to check quotas, record usage and answer a blocked request. Everything else in this folder is the
 * library's own. No Next.js, React or `server-only` here; client components import the vocabulary
 * (./vocabulary) and the platform registry (./platforms) directly, which pull in no server code.
 */
export { billingConfigFromEnv, createBillingRuntime, type BillingRuntime } from "./runtime";
export {
  BillingService,
  DEFAULT_BILLING_CONFIG,
  type BillingConfig,
  type BillingLogger,
  type QuotaDecision,
  type QuotaSource,
} from "./service";
export type { RecordResult } from "./ledger";
export { BillingServiceError, billingErrorResponse, QuotaExhaustedError, retryAfterSeconds } from "./errors";
export {
  DEFAULT_PLATFORMS,
  isKnownPlatform,
  isPlatform,
  PLATFORM_LABELS,
  platformLabel,
  platformRegistry,
  type KnownPlatform,
  type Platform,
} from "./platforms";
export { hasAnyLimit, QUOTA_WINDOWS, type Limits, type QuotaWindow } from "./vocabulary";
export { QuotaClock } from "./windows";
export { billingKeys, ledgerKeys, parseDirtyMember, parseQuotaKey } from "./keys";
export { REDIS_OPTIONS, PG_TIMEOUTS } from "./connections";
export type { FlusherConfig, FlusherStats, QuotaUsageFlusher } from "./flusher";
export { registerBillingMetrics, type BillingMetricsSource, type BillingPrometheusOptions } from "./prometheus";
