/**
 * A user's spend per quota day over the last days as a tiny inline SVG line (no chart library),
 * rendered into the page's HTML on the server from a few numbers per row. It is an image with a
 * text alternative: `label` says every day's amount (screen readers read it; the drawing itself has
 * no text). The line is scaled to the row's own highest day; a flat baseline when nothing was spent.
 * Integer coordinates as one path; its size (SPARK_DAYS points: 56 × 16) and stroke in .spark
 * (app/globals.css): a few dozen bytes per row.
 */
const STEP = 9;
const H = 16;

export function SpendSparkline({ spend, label }: { spend: readonly number[]; label: string }) {
  const max = Math.max(...spend, 0);
  const w = Math.max(1, spend.length - 1) * STEP + 2;
  const y = (v: number) => (max > 0 ? Math.round(H - 1 - (v / max) * (H - 2)) : H - 1);
  // Nothing spent: the flat baseline from its two ends (the same line, a third of the bytes).
  const points = max > 0 ? spend.map((v, i) => `${1 + i * STEP},${y(v)}`).join(" ") : `1,${H - 1} ${w - 1},${H - 1}`;
  return (
    <svg role="img" aria-label={label} viewBox={`0 0 ${w} ${H}`} className="spark">
      <path d={`M${points}`} />
    </svg>
  );
}
