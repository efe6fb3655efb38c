import { apiGet } from "@/lib/api/client";
import type { UserUsageHistory } from "@/lib/quota/history";

/**
 * The usage-history reads as React Query sees them (keys and the browser's fetchers), beside
 * lib/quota/query.ts's quota keys. Client-safe: the type is imported as a type only.
 */
export const HISTORY_DAYS = 30;

export const historyKeys = {
  /** the signed-in user's own history (dashboard) */
  mine: (days: number) => ["me", "usage-history", days] as const,
  /** one user's history as the admin quota modal reads it */
  user: (userId: number, days: number) => ["admin", "usage-history", userId, days] as const,
};

export const myHistoryUrl = (days: number) => `/api/v1/user/usage-history?days=${days}`;
export const userHistoryUrl = (userId: number, days: number) =>
  `/api/v1/admin/users/${userId}/usage-history?days=${days}`;

export const fetchMyHistory = (days: number, { signal }: { signal?: AbortSignal } = {}) =>
  apiGet<UserUsageHistory>(myHistoryUrl(days), signal);
export const fetchUserHistory = (userId: number, days: number, { signal }: { signal?: AbortSignal } = {}) =>
  apiGet<UserUsageHistory>(userHistoryUrl(userId, days), signal);
