import type { ReactNode } from "react";

/**
 * The data-table alternative of a chart (issue 15: every chart has one): a real <table>, one row
 * per quota day, one column per series, inside a <details> so it costs no script to open. Plain
 * props and no hooks, so the server (admin overview) and the lazy client panels both render it.
 */
export function HistoryTable({
  summary,
  caption,
  dayHeader,
  days,
  columns,
  testId,
  open = false,
}: {
  summary: string;
  caption: string;
  dayHeader: string;
  /** the row headers, already formatted */
  days: readonly string[];
  /** a column per series: its header and one formatted cell per day */
  columns: ReadonlyArray<{ key: string; header: string; cells: readonly ReactNode[] }>;
  testId?: string;
  open?: boolean;
}) {
  return (
    <details className="mt-3 text-sm" open={open}>
      <summary className="cursor-pointer text-slate-700 underline">{summary}</summary>
      <div className="mt-2 max-h-96 overflow-auto rounded-md border border-slate-200" tabIndex={0}>
        <table className="w-full border-collapse text-right tabular-nums" data-testid={testId}>
          <caption className="sr-only">{caption}</caption>
          <thead className="sticky top-0 bg-slate-50">
            <tr>
              <th scope="col" className="px-3 py-2 text-left font-medium">
                {dayHeader}
              </th>
              {columns.map((c) => (
                <th key={c.key} scope="col" data-column={c.key} className="px-3 py-2 font-medium break-keep">
                  {c.header}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {days.map((d, i) => (
              <tr key={i} className="border-t border-slate-100">
                <th scope="row" className="px-3 py-1.5 text-left font-normal whitespace-nowrap">
                  {d}
                </th>
                {columns.map((c) => (
                  <td key={c.key} data-column={c.key} className="px-3 py-1.5 whitespace-nowrap">
                    {c.cells[i]}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </details>
  );
}

/** Series colors by position: distinct hues, each ≥ 4.5:1 on white (the legend's text swatches). */
export const SERIES_COLORS = ["#2563eb", "#c2410c", "#047857", "#7c3aed", "#be123c", "#0e7490", "#a16207", "#334155"];

/** "Dec 3" for the quota day "2026-12-03": read as a calendar date (UTC), never as an instant. */
export function dayLabel(day: string, locale: string): string {
  const [y, m, d] = day.split("-").map(Number);
  return new Intl.DateTimeFormat(locale, { month: "short", day: "numeric", timeZone: "UTC" }).format(
    new Date(Date.UTC(y, m - 1, d)),
  );
}

/** "Thu, Dec 3, 2026" for a table's row header (a full date, still zone-free). */
export function dayLong(day: string, locale: string): string {
  const [y, m, d] = day.split("-").map(Number);
  return new Intl.DateTimeFormat(locale, {
    weekday: "short",
    year: "numeric",
    month: "short",
    day: "numeric",
    timeZone: "UTC",
  }).format(new Date(Date.UTC(y, m - 1, d)));
}
