/**
 * Which users a bulk operation selects: the users list's own filter (lib/users/list-sql.ts), plus
 * the bulk-only predicates the issue names (over N % of a limit, created between) in one small
 * function of their own. No `server-only`: the benchmark runs the same statements.
 */
import type { QuotaClock } from "@/lib/billing/windows";
import { SqlParams, userFilterSql } from "@/lib/users/list-sql";

import type { BulkFilter } from "./types";

export { SqlParams };

/**
 * The bulk-only predicates on `users` aliased `u`, AND-joined ("TRUE" when none is set):
 *   overPercent  some active row has a limited window (limit > 0) whose current usage is at least
 *                N % of it, with the list's lazy-zero rules (a rolled-over window counts 0);
 *   createdFrom  created_at ≥ the instant; createdTo  created_at < the instant.
 */
export function bulkExtraFilterSql(f: BulkFilter, clock: QuotaClock, now: number, sql: SqlParams, alias = "u"): string {
  const u = alias;
  const where: string[] = [];
  if (f.overPercent !== null) {
    const ratio = sql.add(f.overPercent / 100);
    const day = sql.add(new Date(clock.startOfDay(now)));
    const week = sql.add(new Date(clock.startOfWeek(now)));
    const month = sql.add(new Date(now - 720 * 3600_000));
    where.push(`EXISTS (SELECT 1 FROM user_platform_quotas q WHERE q.user_id = ${u}.id AND q.deleted_at IS NULL AND (
         (q.daily_limit_usd > 0 AND (q.daily_window_start IS NULL OR q.daily_window_start >= ${day}) AND q.daily_usage_usd >= ${ratio} * q.daily_limit_usd)
      OR (q.weekly_limit_usd > 0 AND (q.weekly_window_start IS NULL OR q.weekly_window_start >= ${week}) AND q.weekly_usage_usd >= ${ratio} * q.weekly_limit_usd)
      OR (q.monthly_limit_usd > 0 AND (q.monthly_window_start IS NULL OR q.monthly_window_start > ${month}) AND q.monthly_usage_usd >= ${ratio} * q.monthly_limit_usd)))`);
  }
  if (f.createdFrom !== null) where.push(`${u}.created_at >= ${sql.add(new Date(f.createdFrom))}`);
  if (f.createdTo !== null) where.push(`${u}.created_at < ${sql.add(new Date(f.createdTo))}`);
  return where.length ? where.join("\n       AND ") : "TRUE";
}

/** The whole selection condition of a filter: the list's filter AND the bulk-only predicates. */
export function bulkFilterSql(f: BulkFilter, clock: QuotaClock, now: number, sql: SqlParams, alias = "u"): string {
  return `${userFilterSql(f, clock, now, sql, alias)}\n       AND ${bulkExtraFilterSql(f, clock, now, sql, alias)}`;
}
