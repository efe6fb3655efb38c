"use client";

import { useQuery } from "@tanstack/react-query";
import { useFormatter, useTimeZone, useTranslations } from "next-intl";
import { createContext, useContext, useMemo, type ReactNode } from "react";

import { fetchUserCells, quotaKeys, USER_CELLS_REFRESH_MS } from "@/lib/quota/query";
import { unpackQuotaCells, type PackedQuotaCells, type QuotaCell } from "@/lib/users/quota-cells";

import { QuotaSummary, type QuotaSummaryLabels } from "./quota-summary";

/**
 * The users list's quota column, live: the server renders the page's snapshot, then React Query
 * polls GET /api/v1/admin/users/quota-cells for the page's users every 10 s (paused while the tab
 * is hidden) and the cells redraw without a reload. Whichever snapshot is newer wins, so a page the
 * server re-renders after a save (revalidation) is never shown older than a poll, or the reverse.
 * The server's snapshot arrives packed (lib/users/quota-cells.ts packQuotaCells): the page's payload.
 */
type Ctx = { cells: Record<string, QuotaCell[]>; labels: QuotaSummaryLabels };
const CellsContext = createContext<Ctx | null>(null);

export function LiveQuotaCells({
  initial,
  labels,
  children,
}: {
  initial: PackedQuotaCells;
  labels: QuotaSummaryLabels;
  children: ReactNode;
}) {
  const t = useTranslations("AdminUsers");
  const format = useFormatter();
  const timeZone = useTimeZone();
  const first = useMemo(() => unpackQuotaCells(initial), [initial]);
  const ids = useMemo(() => initial.users.map((u) => u[0]).sort((a, b) => a - b), [initial.users]);
  const { data } = useQuery({
    queryKey: quotaKeys.userCells(ids),
    queryFn: ({ signal }) => fetchUserCells(ids, { signal }),
    refetchInterval: USER_CELLS_REFRESH_MS,
    refetchIntervalInBackground: false,
    enabled: ids.length > 0,
  });
  const current = data && data.at > first.at ? data : first;
  const value = useMemo(() => ({ cells: current.cells, labels }), [current, labels]);
  return (
    <CellsContext.Provider value={value}>
      <p className="mb-2 text-xs text-slate-600" data-testid="quota-updated">
        {t("quotasUpdated", {
          time: format.dateTime(new Date(current.at), "clock"),
          zone: timeZone ?? "UTC",
          seconds: USER_CELLS_REFRESH_MS / 1000,
        })}
      </p>
      {children}
    </CellsContext.Provider>
  );
}

/** One user's quota cell, from the newest snapshot. */
export function LiveQuotaSummary({ userId }: { userId: number }) {
  const ctx = useContext(CellsContext);
  if (!ctx) throw new Error("LiveQuotaSummary outside LiveQuotaCells");
  return <QuotaSummary cells={ctx.cells[String(userId)] ?? []} labels={ctx.labels} />;
}
