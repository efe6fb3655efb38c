import type { QuotaCell, QuotaCellWindow } from "@/lib/users/quota-cells";

/** Amounts as the gateway's cell shows them: rounded to 2 decimals, trailing zeros dropped. */
const amount = (n: number) => String(Math.round(n * 100) / 100);

export type QuotaSummaryLabels = {
  notConfigured: string;
  disabled: string;
  windows: { daily: string; weekly: string; monthly: string };
  platforms: Record<string, string>;
};

/**
 * The compact platform-quota cell of the users list (spec §8.3): `used/limit` per window, "—" for
 * unlimited, as a grid whose columns (platform, daily, weekly, monthly) have the same widths in
 * every row of the list, so the column scans straight down. A plain component with labels resolved
 * once per table (50 cells each fetching translations made the RSC payload twice as large); it
 * renders on the server and again on each poll (live-quota-cells.tsx).
 */
export function QuotaSummary({ cells, labels }: { cells: readonly QuotaCell[]; labels: QuotaSummaryLabels }) {
  if (cells.length === 0) return <span className="text-slate-500">{labels.notConfigured}</span>;
  const win = ([used, limit]: QuotaCellWindow, label: string) => (
    <span className="text-right whitespace-nowrap">
      <span className="sr-only">{label} </span>
      {limit === 0 ? (
        <b className="text-red-700">{labels.disabled}</b>
      ) : limit !== null && used >= limit ? (
        <b className="text-red-700">{`${amount(used)}/${amount(limit)}`}</b>
      ) : (
        `${amount(used)}/${limit === null ? "—" : amount(limit)}`
      )}
    </span>
  );
  return (
    <div className="grid grid-cols-[5.5rem_repeat(3,5.5rem)] gap-x-2 gap-y-0.5 text-xs tabular-nums">
      <span aria-hidden="true" />
      {([labels.windows.daily, labels.windows.weekly, labels.windows.monthly] as const).map((w) => (
        <span key={w} aria-hidden="true" className="text-right break-keep text-slate-600">
          {w}
        </span>
      ))}
      {cells.map((q) => (
        <div key={q.p} data-quota-platform={q.p} className="contents">
          <span className="truncate font-medium">{labels.platforms[q.p] ?? q.p}</span>
          {win(q.d, labels.windows.daily)}
          {win(q.w, labels.windows.weekly)}
          {win(q.m, labels.windows.monthly)}
        </div>
      ))}
    </div>
  );
}
