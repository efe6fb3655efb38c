import { ops as shortOr } from "./lifecycle";
import { progress, runOps, type Run } from "./run";
import { latencyStats } from "./stats";
import { printTable } from "./table";

/** One side of a library-vs-baseline pair, or a single run. */
export type Measurement = {
  name: string;
  concurrency: number;
  ops: number;
  seconds: number;
  opsPerSec: number;
  p50Ms: number | null;
  p99Ms: number | null;
  baseline?: string;
  baselineOpsPerSec?: number;
  ratio?: number;
  target?: string;
};

export function summarize(name: string, concurrency: number, runs: Run<unknown>[]): Measurement {
  const ops = runs.reduce((s, r) => s + r.ops, 0);
  const seconds = runs.reduce((s, r) => s + r.seconds, 0);
  const stats = runs.every((r) => r.latencies) ? latencyStats(runs.map((r) => r.latencies as Float64Array)) : null;
  const [p50Ms, p99Ms] = [stats?.p50Ms ?? null, stats?.p99Ms ?? null];
  return { name, concurrency, ops, seconds, opsPerSec: ops / seconds, p50Ms, p99Ms };
}

/** ABBA blocks per pair (see measurePair); fewer in a short run. */
export const LEG_BLOCKS = shortOr(50, 5);

type Side = [name: string, op: (i: number) => Promise<unknown>];

/**
 * A library op vs its raw baseline at one concurrency: warm both up, then measure in ABBA blocks
 * (LEG_BLOCKS of them, each leg 1/(2·LEG_BLOCKS) of the ops) so drift — JIT, CPU clocks, a noisy
 * neighbour on a shared VM, table bloat — hits both sides alike. Measured on the 2-core VM with the
 * same HGETALL on both sides (8 runs each, c=64 × 200k ops and c=1 × 20k ops): one block of halves
 * gave ratios 0.86–1.21, five blocks 0.91–1.06, fifty blocks 0.97–1.03. The library side carries
 * the ratio of its ops/s to the baseline's.
 */
export async function measurePair(
  [name, lib]: Side,
  [baselineName, raw]: Side,
  concurrency: number,
  ops: number,
  warmupOps = Math.min(Math.ceil(ops / 5), 20_000),
): Promise<[Measurement, Measurement]> {
  progress(`${name} vs ${baselineName}, c=${concurrency}: warm-up ${warmupOps} ops each, then ${ops} ops each`);
  await runOps(warmupOps, concurrency, lib, { name, record: false });
  await runOps(warmupOps, concurrency, raw, { name: baselineName, record: false });
  const legs = 2 * LEG_BLOCKS;
  const leg = (k: number) => Math.floor((ops * (k + 1)) / legs) - Math.floor((ops * k) / legs);
  const a: Run<unknown>[] = [];
  const b: Run<unknown>[] = [];
  for (let blk = 0; blk < LEG_BLOCKS; blk++) {
    a.push(await runOps(leg(2 * blk), concurrency, lib, { name }));
    b.push(await runOps(leg(2 * blk), concurrency, raw, { name: baselineName }));
    b.push(await runOps(leg(2 * blk + 1), concurrency, raw, { name: baselineName }));
    a.push(await runOps(leg(2 * blk + 1), concurrency, lib, { name }));
  }
  const l = summarize(name, concurrency, a);
  const r = summarize(baselineName, concurrency, b);
  return [{ ...l, baseline: r.name, baselineOpsPerSec: r.opsPerSec, ratio: l.opsPerSec / r.opsPerSec }, r];
}

const fmtInt = (n: number | undefined) => (n === undefined ? "" : Math.round(n).toLocaleString("en-US"));
const fmtMs = (n: number | null | undefined) => (n === null || n === undefined ? "-" : n.toFixed(3));

export function printMeasurements(rows: Measurement[]): void {
  printTable(
    ["name", "conc", "ops/s", "p50 ms", "p99 ms", "baseline ops/s", "ratio", "target"],
    rows.map((r) => [
      ...[r.name, String(r.concurrency), fmtInt(r.opsPerSec), fmtMs(r.p50Ms), fmtMs(r.p99Ms)],
      ...[fmtInt(r.baselineOpsPerSec), r.ratio === undefined ? "" : `${r.ratio.toFixed(2)}x`, r.target ?? ""],
    ]),
    "lrrrrrrl",
  );
}
