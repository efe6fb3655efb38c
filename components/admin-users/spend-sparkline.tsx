/**
 * A user's spend per quota day over the last days as a tiny inline SVG line (no chart library),
 * rendered into the page's HTML on the server from a few numbers per row. It is an image with a
 * text alternative: `label` says every day's amount (screen readers read it; the drawing itself has
 * no text). The line is scaled to the row's own highest day; a flat baseline when nothing was spent.
 * Integer coordinates and the stroke set once on the <svg>: a few dozen bytes per row.
 */
const STEP = 9;
const H = 16;

export function SpendSparkline({ spend, label }: { spend: readonly number[]; label: string }) {
  const max = Math.max(...spend, 0);
  const w = Math.max(1, spend.length - 1) * STEP + 2;
  const y = (v: number) => (max > 0 ? Math.round(H - 1 - (v / max) * (H - 2)) : H - 1);
  const points = spend.map((v, i) => `${1 + i * STEP},${y(v)}`).join(" ");
  return (
    <svg
      role="img"
      aria-label={label}
      width={w}
      height={H}
      viewBox={`0 0 ${w} ${H}`}
      className="fill-none stroke-sky-700 stroke-[1.5]"
    >
      <polyline points={points} />
    </svg>
  );
}
