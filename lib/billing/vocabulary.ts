/**
 * The quota vocabulary, once (code-shape review §4.5): a window, the list of windows in the
 * gateway's check order (daily → weekly → monthly, spec §4), a set of limits, and "has any
 * limit". Pure and dependency-free, so client components, the server and lib/billing share it.
 *
 * A limit is null (unlimited), 0 (disabled) or a USD cap (spec §2.1).
 */
export type QuotaWindow = "daily" | "weekly" | "monthly";
export const QUOTA_WINDOWS: readonly QuotaWindow[] = ["daily", "weekly", "monthly"];

export type Limits = Record<QuotaWindow, number | null>;

/** True when at least one window has a limit (0 counts: a disabled window blocks). */
export function hasAnyLimit(limits: Limits): boolean {
  return limits.daily !== null || limits.weekly !== null || limits.monthly !== null;
}

/** The limits of an API item (`daily_limit_usd`, …) as Limits. */
export const itemLimits = (i: Record<`${QuotaWindow}_limit_usd`, number | null>): Limits => ({
  daily: i.daily_limit_usd,
  weekly: i.weekly_limit_usd,
  monthly: i.monthly_limit_usd,
});
