/** Latency statistics with one percentile definition for every benchmark. */

/** Nearest-rank percentile of an ascending array: the smallest sample with at least p of all at or below it. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

/** The samples of several runs, one after the other, sorted ascending (a new array). */
export function sortedSamples(parts: readonly Float64Array[]): Float64Array {
  const all = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    all.set(p, o);
    o += p.length;
  }
  return all.sort();
}

export type LatencyStats = { p50Ms: number; p90Ms: number; p99Ms: number; meanMs: number; maxMs: number };

/** p50 / p90 / p99 (nearest rank), mean and max of the samples of one or more runs, in ms. */
export function latencyStats(parts: readonly Float64Array[]): LatencyStats {
  const sorted = sortedSamples(parts);
  return {
    p50Ms: percentile(sorted, 0.5),
    p90Ms: percentile(sorted, 0.9),
    p99Ms: percentile(sorted, 0.99),
    meanMs: sorted.reduce((s, x) => s + x, 0) / sorted.length,
    maxMs: sorted[sorted.length - 1],
  };
}
