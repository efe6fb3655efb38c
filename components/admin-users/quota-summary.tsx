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
 * The cell's grid (.quota-grid in app/globals.css): platform, daily, weekly, monthly — the same
 * column widths in every row and in the column's header (QuotaSummaryHeader), so the column scans
 * straight down. Its children are styled by the grid, not each span on its own: 50 rows × 12
 * amounts of repeated utilities were most of the page's HTML (issue 14).
 */
const GRID = "quota-grid";

/** The window names once, above the column (the cells carry them only for screen readers). */
export function QuotaSummaryHeader({ title, labels }: { title: string; labels: QuotaSummaryLabels }) {
  return (
    <>
      {title}
      <span aria-hidden="true" className={`${GRID} mt-0.5 font-normal text-slate-600`}>
        <span />
        <span>{labels.windows.daily}</span>
        <span>{labels.windows.weekly}</span>
        <span>{labels.windows.monthly}</span>
      </span>
    </>
  );
}

/**
 * The compact platform-quota cell of the users list (spec §8.3): `used/limit` per window, "—" for
 * unlimited; each amount is preceded by its window's name for screen readers. A plain component with
 * labels resolved once per table; it renders on the server and again on each poll (live-quota-cells.tsx).
 * Styled from .quota-grid (app/globals.css): a platform's group is `display: contents`, its first
 * span the platform's name, each later span a window's visually hidden name before its amount — no
 * class, attribute or wrapper on any of them (50 rows × up to 4 platforms × 3 windows; tests find a
 * platform by its visible name).
 */
export function QuotaSummary({ cells, labels }: { cells: readonly QuotaCell[]; labels: QuotaSummaryLabels }) {
  if (cells.length === 0) return <span className="text-slate-500">{labels.notConfigured}</span>;
  // The amount is a grid item of its own (an anonymous one when it is plain text); the window's
  // name before it is visually hidden, so it is no grid item.
  const win = ([used, limit]: QuotaCellWindow, label: string) => (
    <>
      <span>{`${label} `}</span>
      {limit === 0 ? (
        <b>{labels.disabled}</b>
      ) : limit !== null && used >= limit ? (
        <b>{`${amount(used)}/${amount(limit)}`}</b>
      ) : (
        `${amount(used)}/${limit === null ? "—" : amount(limit)}`
      )}
    </>
  );
  return (
    <div className={GRID}>
      {cells.map((q) => (
        <div key={q.p}>
          <span>{labels.platforms[q.p] ?? q.p}</span>
          {win(q.d, labels.windows.daily)}
          {win(q.w, labels.windows.weekly)}
          {win(q.m, labels.windows.monthly)}
        </div>
      ))}
    </div>
  );
}
