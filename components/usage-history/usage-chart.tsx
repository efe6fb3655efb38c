"use client";

import "uplot/dist/uPlot.min.css";

import { useEffect, useRef } from "react";
import uPlot from "uplot";

/**
 * A day-by-day chart drawn with uPlot (canvas; ~22 kB gzipped, the smallest well-kept time-series
 * library: Chart.js is ~71 kB whole). This module is only ever reached through a lazy import
 * (components/usage-history/lazy.tsx), so uPlot is a chunk of its own, fetched after the page
 * painted and only where a chart is shown.
 *
 * The x axis is the day's index, labelled with the caller's text: days are quota-zone calendar
 * days, never instants, so the viewer's zone cannot shift them. The canvas is an image to
 * assistive technology (role="img" with a label); the values are in the data table beside it.
 */
export type ChartSeries = {
  label: string;
  color: string;
  /** one value per day; null = no value that day (a gap) */
  values: ReadonlyArray<number | null>;
  /** line with points, bars, or a dashed limit line */
  style: "line" | "bars" | "limit";
};

export function UsageChart({
  labels,
  series,
  formatY,
  label,
  xLabel,
  height = 260,
  testId,
}: {
  labels: readonly string[];
  series: readonly ChartSeries[];
  formatY: (v: number) => string;
  label: string;
  /** the x series' name in the legend (it shows the hovered day) */
  xLabel: string;
  height?: number;
  testId?: string;
}) {
  const el = useRef<HTMLDivElement>(null);
  // The format is read through a ref: a caller's new function each render must not rebuild the plot.
  const fmt = useRef(formatY);
  useEffect(() => {
    fmt.current = formatY;
  }, [formatY]);
  useEffect(() => {
    const node = el.current;
    if (!node) return;
    const xs = labels.map((_, i) => i);
    const bars = uPlot.paths.bars?.({ size: [0.7, 36] });
    const opts: uPlot.Options = {
      width: Math.max(node.clientWidth, 240),
      height,
      cursor: { points: { size: 6 } },
      scales: {
        x: { time: false, range: (_u, min, max) => [min - 0.5, max + 0.5] },
        y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.08 : 1] },
      },
      axes: [
        {
          values: (_u, splits) => splits.map((i) => (Number.isInteger(i) ? (labels[i] ?? "") : "")),
          space: 72, // room for "Nov 28" / "11月28日" between ticks at phone widths
          incrs: [1, 2, 3, 7, 14, 30, 60, 90],
          grid: { show: false },
          stroke: "#475569",
        },
        {
          values: (_u, splits) => splits.map((v) => fmt.current(v)),
          size: 64,
          stroke: "#475569",
          grid: { stroke: "#e2e8f0" },
        },
      ],
      series: [
        { label: xLabel, value: (_u, i) => (i === null ? "" : (labels[i] ?? "")) },
        ...series.map((s): uPlot.Series => ({
          label: s.label,
          stroke: s.color,
          width: s.style === "limit" ? 1.5 : 2,
          dash: s.style === "limit" ? [6, 4] : undefined,
          fill: s.style === "bars" ? `${s.color}b3` : undefined,
          paths: s.style === "bars" ? bars : undefined,
          points: { show: s.style === "line", size: 5 },
          value: (_u, v) => (v === null || v === undefined ? "—" : fmt.current(v)),
        })),
      ],
    };
    // A bar of 0 would still be stroked as a line on the axis: no bar instead (the table has the 0).
    const data = [
      xs,
      ...series.map((s) => (s.style === "bars" ? s.values.map((v) => (v === 0 ? null : v)) : [...s.values])),
    ] as uPlot.AlignedData;
    const plot = new uPlot(opts, data, node);
    const ro = new ResizeObserver(() => plot.setSize({ width: Math.max(node.clientWidth, 240), height }));
    ro.observe(node);
    return () => {
      ro.disconnect();
      plot.destroy();
    };
  }, [labels, series, height, xLabel]);
  return <div ref={el} role="img" aria-label={label} data-testid={testId} className="w-full min-w-0" />;
}
