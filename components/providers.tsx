"use client";

import { QueryClient, QueryClientContext, QueryClientProvider } from "@tanstack/react-query";
import { useContext, useEffect, useState, type ReactNode } from "react";

import { latestMyQuotas, subscribeMyQuotas } from "@/lib/quota/my-quotas-feed";
import { quotaKeys } from "@/lib/quota/query";

const newQueryClient = () =>
  new QueryClient({ defaultOptions: { queries: { staleTime: 5_000, refetchOnWindowFocus: true, retry: 1 } } });

/**
 * One QueryClient per browser tab (per request on the server), for the admin pages (their layout).
 * The dashboard and the shell poll without React Query, so it is not in their first-load JS.
 */
export function Providers({ children }: { children: ReactNode }) {
  const [client] = useState(newQueryClient);
  return <QueryClientProvider client={client}>{children}</QueryClientProvider>;
}

/**
 * For a lazily loaded panel that uses React Query: the page's client where there is one (the admin
 * pages), else one of its own (the dashboard) whose "my quotas" entry is the dashboard cards' live
 * reads (lib/quota/my-quotas-feed.ts), never fetched a second time.
 */
export function EnsureQueryClient({ children }: { children: ReactNode }) {
  const outer = useContext(QueryClientContext);
  const [own] = useState(() => {
    if (outer) return null;
    const client = newQueryClient();
    client.setQueryDefaults(quotaKeys.mine, { staleTime: Infinity, refetchOnWindowFocus: false });
    const latest = latestMyQuotas();
    if (latest) client.setQueryData(quotaKeys.mine, latest);
    return client;
  });
  useEffect(() => (own ? subscribeMyQuotas((data) => own.setQueryData(quotaKeys.mine, data)) : undefined), [own]);
  return own ? <QueryClientProvider client={own}>{children}</QueryClientProvider> : children;
}
