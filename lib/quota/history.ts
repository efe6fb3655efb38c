import "server-only";

import { historyRetentionFromEnv, overviewHistory, userHistory, type HistoryRow } from "@/lib/billing/history";

import { appDeps, type QuotaDeps } from "./runtime";

/**
 * Usage history reads for the API (issue 15): per quota day × platform, with what a chart needs —
 * every day of the range listed (zero days included), the platforms present, and the user's current
 * limits to draw as lines. Days are calendar days of QUOTA_TIMEZONE (`time_zone`).
 */
export const MAX_HISTORY_DAYS = 366;

export type HistoryQuery = { days: number; platform: string | null };

/** ?days=1..366 (default 30) & platform=<a platform of the registry> — or the error code to answer with. */
export async function parseHistoryQuery(
  url: URL,
  deps: QuotaDeps = appDeps(),
): Promise<{ ok: true; query: HistoryQuery } | { ok: false; reason: "INVALID_DAYS" | "INVALID_PLATFORM" }> {
  const rawDays = url.searchParams.get("days");
  let days = 30;
  if (rawDays !== null) {
    if (!/^\d{1,3}$/.test(rawDays) || Number(rawDays) < 1 || Number(rawDays) > MAX_HISTORY_DAYS)
      return { ok: false, reason: "INVALID_DAYS" };
    days = Number(rawDays);
  }
  const platform = url.searchParams.get("platform");
  if (platform !== null && platform !== "" && !(await deps.billing.platforms()).includes(platform))
    return { ok: false, reason: "INVALID_PLATFORM" };
  return { ok: true, query: { days, platform: platform || null } };
}

/** The `days` calendar days ending today (quota time zone), oldest first, as YYYY-MM-DD. */
function dayList(deps: QuotaDeps, days: number): string[] {
  const { clock } = deps.billing;
  const now = deps.now ?? Date.now();
  const fmt = new Intl.DateTimeFormat("en-CA", {
    timeZone: clock.timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
  });
  const out: string[] = [];
  let d = clock.startOfDay(now);
  for (let i = 0; i < days; i++) {
    out.unshift(fmt.format(new Date(d + 12 * 3_600_000)));
    d = clock.startOfDay(d - 12 * 3_600_000);
  }
  return out;
}

export type UserUsageHistory = {
  time_zone: string;
  days: string[];
  /** one row per day × platform with usage (days without usage are absent: read them as 0) */
  usage: HistoryRow[];
  /** the current limits per platform (null = unlimited), for the chart's lines */
  limits: Array<{ platform: string; daily: number | null; weekly: number | null; monthly: number | null }>;
};

export async function getUserUsageHistory(
  userId: number,
  q: HistoryQuery,
  deps: QuotaDeps = appDeps(),
): Promise<UserUsageHistory> {
  const { pool, clock, repo } = deps.billing;
  const [usage, rows] = await Promise.all([
    userHistory(pool, clock, historyRetentionFromEnv(), { userId, days: q.days, platform: q.platform, now: deps.now }),
    repo.listByUser(userId),
  ]);
  return {
    time_zone: clock.timeZone,
    days: dayList(deps, q.days),
    usage,
    limits: rows
      .filter((r) => !q.platform || r.platform === q.platform)
      .map((r) => ({ platform: r.platform, daily: r.dailyLimit, weekly: r.weeklyLimit, monthly: r.monthlyLimit })),
  };
}

export async function getUsageOverview(q: HistoryQuery, deps: QuotaDeps = appDeps()) {
  const { pool, clock } = deps.billing;
  const { rows, todayAsOf } = await overviewHistory(pool, clock, { days: q.days, platform: q.platform, now: deps.now });
  // today_as_of: null when today's figures are live, else the instant of the snapshot they come from
  // (a large installation: lib/billing/history.ts refreshTodayOverview).
  return { time_zone: clock.timeZone, days: dayList(deps, q.days), usage: rows, today_as_of: todayAsOf };
}
