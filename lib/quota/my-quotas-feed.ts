import type { MyQuotas } from "./user";

/**
 * The dashboard's quota cards publish every read of the user's own quotas here (they poll without
 * React Query, lib/api/use-polled.ts), so that a lazily loaded panel that reads the same data
 * through React Query (the usage-history chart's projection) sees the cards' live values without a
 * second poll of the API. Browser only; module state is per tab.
 */
let latest: MyQuotas | undefined;
const listeners = new Set<(data: MyQuotas) => void>();

export function publishMyQuotas(data: MyQuotas): void {
  latest = data;
  for (const l of listeners) l(data);
}

export const latestMyQuotas = (): MyQuotas | undefined => latest;

export function subscribeMyQuotas(listener: (data: MyQuotas) => void): () => void {
  listeners.add(listener);
  return () => void listeners.delete(listener);
}
