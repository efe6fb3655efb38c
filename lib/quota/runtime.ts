import "server-only";
import { QuotaCache } from "@/lib/billing/quota-cache";
import { QuotaRepository } from "@/lib/billing/quota-repo";
import { BillingService } from "@/lib/billing/service";
import { QuotaClock } from "@/lib/billing/windows";
import { env } from "@/lib/config/env";
import { pgPool } from "@/lib/db/client";
import { redis } from "@/lib/redis/client";

/** lib/billing wired onto the app's singletons (pg pool, Redis client, QUOTA_TIMEZONE). */
type AppBilling = { clock: QuotaClock; repo: QuotaRepository; cache: QuotaCache | null; service: BillingService };

const globalForBilling = globalThis as unknown as { qcBilling?: AppBilling };

export function appBilling(): AppBilling {
  if (!globalForBilling.qcBilling) {
    const clock = new QuotaClock(env().QUOTA_TIMEZONE);
    const repo = new QuotaRepository(pgPool(), clock);
    const r = redis();
    const cache = r ? new QuotaCache(r) : null;
    globalForBilling.qcBilling = { clock, repo, cache, service: new BillingService({ cache, repo, clock }) };
  }
  return globalForBilling.qcBilling;
}
