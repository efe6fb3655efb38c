import type { AdminQuotaItem } from "@/lib/billing/quota-view";
import { hasAnyLimit } from "@/lib/billing/vocabulary";

/**
 * The users list's quota column as data: per limited platform, `[used, limit]` of each window
 * (limit null = unlimited, 0 = disabled) — exactly what the cell draws and nothing else, so the
 * page's payload and each 10-second poll stay small. Client-safe (types and a pure function).
 */
export type QuotaCellWindow = [used: number, limit: number | null];
export type QuotaCell = { p: string; d: QuotaCellWindow; w: QuotaCellWindow; m: QuotaCellWindow };

/** A poll's answer: each user's cells (by id) and when they were read. */
export type QuotaCellsSnapshot = { at: string; cells: Record<string, QuotaCell[]> };

/** Cents of cents are enough for the cell (it shows 2 decimals). */
const r4 = (n: number) => Math.round(n * 1e4) / 1e4;

export function toQuotaCells(items: readonly AdminQuotaItem[]): QuotaCell[] {
  return items
    .filter((q) => hasAnyLimit({ daily: q.daily_limit_usd, weekly: q.weekly_limit_usd, monthly: q.monthly_limit_usd }))
    .map((q) => ({
      p: q.platform,
      d: [r4(q.daily_usage_usd), q.daily_limit_usd],
      w: [r4(q.weekly_usage_usd), q.weekly_limit_usd],
      m: [r4(q.monthly_usage_usd), q.monthly_limit_usd],
    }));
}
