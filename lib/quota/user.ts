import "server-only";

import { billingKeys } from "@/lib/billing/keys";
import { adminQuotaItem, userQuotaItem, type QuotaItem } from "@/lib/billing/quota-view";

import { appDeps, type QuotaDeps } from "./runtime";

export type MyQuotas = { platform_quotas: QuotaItem[] };

/**
 * The signed-in user's own quotas (spec §7.2: every active row, no window starts) with the
 * freshest usage: one SQL query and one Redis pipeline. The id always comes from the session.
 */
export async function getMyQuotas(userId: number, deps: QuotaDeps = appDeps()): Promise<MyQuotas> {
  const { repo, clock, cache } = deps.billing;
  const now = deps.now ?? Date.now();
  const rows = await repo.listByUser(userId);
  const entries = await cache?.readManyLenient(rows.map((r) => billingKeys.userPlatformQuota(userId, r.platform)));
  return { platform_quotas: rows.map((row, i) => userQuotaItem(adminQuotaItem(row, now, clock, entries?.[i]))) };
}
