"use client";

import { EnsureQueryClient } from "@/components/providers";

import { UsageHistoryPanel, type HistoryScope } from "./usage-history-panel";

/** What lazy.tsx loads: the panel under a React Query client (the page's, or its own on the dashboard). */
export function LazyPanel({ scope }: { scope: HistoryScope }) {
  return (
    <EnsureQueryClient>
      <UsageHistoryPanel scope={scope} />
    </EnsureQueryClient>
  );
}
