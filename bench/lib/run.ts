import { performance } from "node:perf_hooks";

/** A failure the benchmark explains itself: printed without a stack trace. */
export class BenchError extends Error {}

export const progress = (m: string) => process.stderr.write(`[bench] ${m}\n`);

export type Run<T> = {
  ops: number;
  seconds: number;
  /** each op's latency in ms, by op index; null when not recorded */
  latencies: Float64Array | null;
  /** the result of op 0 */
  first: T | null;
  /** what `cpu` counted during the run (e.g. the server's CPU seconds); null without a sampler */
  cpuSeconds: number | null;
};

export type RunOptions<T> = {
  /** name for the error message */
  name?: string;
  /** record latencies (default true) */
  record?: boolean;
  /** the op's own latency from its result (e.g. fetch to last byte), instead of timing the whole op */
  latency?: (result: T) => number;
  onResult?: (result: T, i: number) => void;
  /** sampled before and after the run: a monotonic counter in seconds, or null when unavailable */
  cpu?: () => number | null;
  every?: { n: number; fn: (done: number) => void };
};

/**
 * Closed loop: `total` ops over `concurrency` async workers sharing one counter (op(i) gets the
 * op's index). Each op's latency is taken individually. A failure stops every worker at its next
 * op; the first one is rethrown, with the count, once all have stopped.
 */
export async function runOps<T>(
  total: number,
  concurrency: number,
  op: (i: number) => Promise<T>,
  o: RunOptions<T> = {},
): Promise<Run<T>> {
  const latencies = (o.record ?? true) ? new Float64Array(total) : null;
  let next = 0;
  let failures = 0;
  let firstError: unknown = null;
  let first: T | null = null;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= total || firstError !== null) return;
      try {
        const t0 = performance.now();
        const r = await op(i);
        if (latencies) latencies[i] = o.latency ? o.latency(r) : performance.now() - t0;
        if (i === 0) first = r;
        o.onResult?.(r, i);
      } catch (e) {
        failures++;
        firstError ??= e;
      }
      if (o.every && (i + 1) % o.every.n === 0) o.every.fn(i + 1);
    }
  };
  const cpu0 = o.cpu?.() ?? null;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
  const seconds = (performance.now() - t0) / 1000;
  const cpu1 = o.cpu?.() ?? null;
  if (firstError !== null) {
    const msg = firstError instanceof Error ? firstError.message : String(firstError);
    throw new BenchError(`${o.name ?? "run"}: ${failures} failed op(s); first: ${msg}`);
  }
  return { ops: total, seconds, latencies, first, cpuSeconds: cpu0 === null || cpu1 === null ? null : cpu1 - cpu0 };
}
