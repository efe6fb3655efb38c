import { QUOTA_SCHEMA_VERSION, type QuotaCacheEntry } from "@/lib/billing/quota-cache";

type Three = readonly [number | null, number | null, number | null];

/** A current quota cache entry (version 1): usage, limits and window starts (ms) per window — daily, weekly, monthly. */
export function quotaEntry(usage: readonly [number, number, number], limits: Three, starts: Three): QuotaCacheEntry {
  return {
    dailyUsage: usage[0],
    weeklyUsage: usage[1],
    monthlyUsage: usage[2],
    version: 1,
    schemaVersion: QUOTA_SCHEMA_VERSION,
    dailyLimit: limits[0],
    weeklyLimit: limits[1],
    monthlyLimit: limits[2],
    dailyWindowStart: starts[0],
    weeklyWindowStart: starts[1],
    monthlyWindowStart: starts[2],
  };
}
