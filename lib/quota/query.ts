import { apiGet } from "@/lib/api/client";
import type { UserQuotasView } from "@/lib/quota/admin";
import type { CacheStatus } from "@/lib/quota/cache-health";
import type { MyQuotas } from "@/lib/quota/user";
import type { QuotaCellsSnapshot } from "@/lib/users/quota-cells";

/**
 * The quota reads as React Query sees them, in one place: the keys (shared by the server's
 * prefetch and the client's hooks; never inline a key) and the browser's fetchers. Client-safe:
 * the types above are imported as types only.
 */
export const quotaKeys = {
  /** the signed-in user's own quotas (dashboard) */
  mine: ["me", "platform-quotas"] as const,
  /** one user's quotas as the admin modal reads them */
  user: (userId: number) => ["admin", "user-quotas", userId] as const,
  /** the users list's quota column for one page of users (admin users page) */
  userCells: (userIds: readonly number[]) => ["admin", "user-quota-cells", userIds.join(",")] as const,
  /** the ledger's backlog (admin cache page) */
  cacheStatus: ["admin", "cache", "status"] as const,
};

export const MY_QUOTAS_URL = "/api/v1/user/platform-quotas";
export const userQuotasUrl = (userId: number) => `/api/v1/admin/users/${userId}/platform-quotas`;
export const CACHE_STATUS_URL = "/api/v1/admin/cache/status";
export const userCellsUrl = (userIds: readonly number[]) => `/api/v1/admin/users/quota-cells?ids=${userIds.join(",")}`;

/** Refresh intervals of the live panels. */
export const MY_QUOTAS_REFRESH_MS = 10_000;
export const CACHE_STATUS_REFRESH_MS = 10_000;
export const USER_CELLS_REFRESH_MS = 10_000;

export const fetchMyQuotas = ({ signal }: { signal?: AbortSignal } = {}) => apiGet<MyQuotas>(MY_QUOTAS_URL, signal);
export const fetchUserQuotas = (userId: number, { signal }: { signal?: AbortSignal } = {}) =>
  apiGet<UserQuotasView>(userQuotasUrl(userId), signal);
export const fetchCacheStatus = ({ signal }: { signal?: AbortSignal } = {}) =>
  apiGet<CacheStatus>(CACHE_STATUS_URL, signal);
export const fetchUserCells = (userIds: readonly number[], { signal }: { signal?: AbortSignal } = {}) =>
  apiGet<QuotaCellsSnapshot>(userCellsUrl(userIds), signal);
