import "server-only";

import { QuotaClock } from "@/lib/billing/windows";
import { env } from "@/lib/config/env";

let clock: QuotaClock | undefined;

/**
 * QUOTA_TIMEZONE's clock, as the billing runtime's: for the quota-keys writers that have no runtime
 * at hand (sign-up, the demo seed; lib/users/quota-keys.ts).
 */
export function envQuotaClock(): QuotaClock {
  return (clock ??= new QuotaClock(env().QUOTA_TIMEZONE));
}
