import "server-only";

import { adminQuotaItem, userQuotaItem, type QuotaItem } from "@/lib/billing/quota-view";
import { redis } from "@/lib/redis/client";
import { billingKeys } from "@/lib/redis/keys";
import { pipelineEntries } from "@/lib/users/list";

import { appBilling } from "./runtime";

export type MyQuotas = { platform_quotas: QuotaItem[] };

/**
 * The signed-in user's own quotas (spec §7.2: every active row, no window starts) with the
 * freshest usage: one SQL query and one Redis pipeline. The id always comes from the session.
 */
export async function getMyQuotas(userId: number, now = Date.now()): Promise<MyQuotas> {
  const { repo, clock } = appBilling();
  const rows = await repo.listByUser(userId);
  const entries = await pipelineEntries(
    redis(),
    rows.map((r) => billingKeys.userPlatformQuota(userId, r.platform)),
  );
  return { platform_quotas: rows.map((row, i) => userQuotaItem(adminQuotaItem(row, now, clock, entries[i]))) };
}
