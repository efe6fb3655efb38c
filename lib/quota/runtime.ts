import "server-only";

import { createBillingRuntime, type BillingRuntime } from "@/lib/billing/runtime";
import { env } from "@/lib/config/env";
import { pgPool } from "@/lib/db/client";
import { appPlatforms } from "@/lib/db/platforms";
import { redis } from "@/lib/redis/client";

/**
 * lib/billing wired onto the app's singletons (its pg pool, its Redis client, QUOTA_TIMEZONE,
 * QUOTA_FLUSHER_ENABLED) through the library's one composition root. The repairer runs in every
 * console instance: it carries admin changes into Redis (the outbox) and finishes usage ops that
 * gateways parked.
 */
const globalForBilling = globalThis as unknown as { qcBilling?: BillingRuntime };

export function appBilling(): BillingRuntime {
  if (!globalForBilling.qcBilling) {
    const e = env();
    globalForBilling.qcBilling = createBillingRuntime({
      pool: pgPool(),
      redis: redis(),
      timeZone: e.QUOTA_TIMEZONE,
      config: { flusherEnabled: e.QUOTA_FLUSHER_ENABLED === "true" },
      // The live gateway's registry in attached mode (lib/db/platforms.ts).
      platforms: appPlatforms,
      // QC_REPAIRER=off: a test drives the repairer's passes itself.
      repair: process.env.NEXT_PHASE !== "phase-production-build" && process.env.QC_REPAIRER !== "off",
    });
  }
  return globalForBilling.qcBilling;
}

/**
 * What lib/quota's functions take as their last parameter: the billing runtime to work on (its pool,
 * Redis client, cache, repository and clock) and the instant to read at. Tests pass a runtime of
 * their own (tests/support/billing-runtime.ts) instead of resetting the app's singletons.
 */
export type QuotaDeps = { billing: BillingRuntime; now?: number };

export function appDeps(): QuotaDeps {
  return { billing: appBilling() };
}
