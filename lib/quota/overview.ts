import "server-only";

import type { AdminQuotaItem } from "@/lib/billing/quota-view";
import { QUOTA_WINDOWS, type QuotaWindow } from "@/lib/billing/vocabulary";
import { listUsersWithQuotas, UserListParamsSchema } from "@/lib/users/list";

import { getUsageOverview } from "./history";

/**
 * The admin overview page's reads (issue 15): every user's spend per quota day × platform (the
 * history API's overview), the top spenders and the users near a cap. The two user lists are the
 * users page's own statement (lib/users/list.ts: one SQL + one Redis pipeline, sorted through the
 * window-start indexes) with its "spend in the 30-day window" and "closest to a cap" sorts, so
 * they rank exactly as that page does and cost one page of it each.
 */
export const OVERVIEW_DAYS = 30;
export const OVERVIEW_USERS = 10;
/** "Near a cap": the users page's "over 80 %" filter. */
export const NEAR_CAP_RATIO = 0.8;

export type TopUser = { id: number; email: string; month: number; today: number };
export type NearCapUser = {
  id: number;
  email: string;
  platform: string;
  window: QuotaWindow;
  used: number;
  limit: number;
  ratio: number;
};

/** The user's most used limited window (limit > 0): the one the "cap" sort ranks by. */
function closest(quotas: AdminQuotaItem[]): Omit<NearCapUser, "id" | "email"> | null {
  let best: Omit<NearCapUser, "id" | "email"> | null = null;
  for (const q of quotas)
    for (const w of QUOTA_WINDOWS) {
      const limit = q[`${w}_limit_usd`];
      if (limit === null || limit <= 0) continue;
      const used = q[`${w}_usage_usd`];
      const ratio = used / limit;
      if (!best || ratio > best.ratio) best = { platform: q.platform, window: w, used, limit, ratio };
    }
  return best;
}

export async function getAdminOverview() {
  const list = (p: Record<string, string>) => listUsersWithQuotas(UserListParamsSchema.parse(p));
  const [history, top, near] = await Promise.all([
    getUsageOverview({ days: OVERVIEW_DAYS, platform: null }),
    list({ sort: "spend_month", dir: "desc" }),
    list({ sort: "cap", dir: "desc", over80: "1" }),
  ]);
  const sum = (qs: AdminQuotaItem[], k: "monthly_usage_usd" | "daily_usage_usd") =>
    Math.round(qs.reduce((s, q) => s + q[k], 0) * 1e10) / 1e10;
  const topUsers: TopUser[] = top.rows
    .map((u) => ({
      id: u.id,
      email: u.email,
      month: sum(u.quotas, "monthly_usage_usd"),
      today: sum(u.quotas, "daily_usage_usd"),
    }))
    .filter((u) => u.month > 0)
    .slice(0, OVERVIEW_USERS);
  const nearCap: NearCapUser[] = near.rows
    .flatMap((u) => {
      const c = closest(u.quotas);
      return c && c.ratio >= NEAR_CAP_RATIO ? [{ id: u.id, email: u.email, ...c }] : [];
    })
    .slice(0, OVERVIEW_USERS);
  return { history, topUsers, nearCap, nearCapTotal: near.total, nearCapTotalAtLeast: near.totalAtLeast };
}
