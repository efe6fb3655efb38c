import type { CacheStatus } from "@/lib/quota/cache-health";

/** React Query key and reader of the Cache health status (shared by the page's prefetch and the panel). */
export const cacheHealthKeys = { status: ["admin", "cache", "status"] as const };
export const CACHE_STATUS_URL = "/api/v1/admin/cache/status";
export const CACHE_STATUS_REFRESH_MS = 10_000;

export async function fetchCacheStatus(): Promise<CacheStatus> {
  const res = await fetch(CACHE_STATUS_URL, { cache: "no-store" });
  if (!res.ok) throw new Error(String(res.status));
  return ((await res.json()) as { data: CacheStatus }).data;
}
