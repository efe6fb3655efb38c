import fs from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";

import { BenchError } from "./run";

/** The project root; benchmarks run from it (scripts/migrate.mjs, .next/, bench-results/). */
export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const started = performance.now();

type Step = () => unknown;
const cleanups: Step[] = [];
const failureNotes: Array<() => string | null> = [];
let interrupted = false;

/** Run `fn` at the end — success, failure or SIGINT/SIGTERM — in reverse order of registration. */
export function onCleanup(fn: Step): () => void {
  cleanups.push(fn);
  return () => {
    const i = cleanups.indexOf(fn);
    if (i >= 0) cleanups.splice(i, 1);
  };
}

/** Something to print when the run fails (e.g. a server's last output). */
export function onFailure(note: () => string | null): void {
  failureNotes.push(note);
}

let cleaning: Promise<void> | null = null;
function cleanupAll(): Promise<void> {
  cleaning ??= (async () => {
    for (const fn of cleanups.splice(0).reverse()) {
      try {
        await fn();
      } catch (e) {
        console.error(`[bench] cleanup: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
  })();
  return cleaning;
}

/**
 * Runs a benchmark's main() from the project root and exits: 0 on success, 1 on failure, 130 on a
 * signal; cleanup runs in every case.
 */
export async function runBench(main: () => Promise<void>): Promise<never> {
  process.chdir(root);
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    // `on`, not `once`: Ctrl-C reaches the whole process group and npm / tsx relay it too, so it
    // arrives more than once; a second one without a handler would kill the cleanup half-way.
    process.on(sig, () => {
      if (interrupted) return;
      interrupted = true;
      console.error(`\n[bench] ${sig}: cleaning up`);
      void cleanupAll().then(() => process.exit(130));
    });
  }
  let failed = false;
  try {
    await main();
  } catch (e) {
    failed = true;
    // After a signal the handler cleans up and exits; the operations it cut off are no failure.
    if (interrupted) await new Promise(() => {});
    console.error(
      `[bench] ${e instanceof BenchError ? e.message : e instanceof Error ? (e.stack ?? e.message) : String(e)}`,
    );
    for (const note of failureNotes) {
      const n = note();
      if (n) console.error(`[bench] ${n}`);
    }
  } finally {
    await cleanupAll();
  }
  process.exit(failed ? 1 : 0);
}

/** Writes bench-results/<name>-<timestamp>.json (with finishedAt and totalSeconds) and says where. */
export function writeReport(name: string, report: Record<string, unknown>): void {
  const finishedAt = new Date();
  const totalSeconds = (performance.now() - started) / 1000;
  const dir = path.join(root, "bench-results");
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}-${finishedAt.toISOString().replace(/[:.]/g, "-")}.json`);
  fs.writeFileSync(
    file,
    `${JSON.stringify({ finishedAt: finishedAt.toISOString(), totalSeconds, ...report }, null, 2)}\n`,
  );
  console.log(`\nresults: ${path.relative(root, file)}`);
  console.log(`total runtime: ${totalSeconds.toFixed(1)} s`);
}

/** BENCH_SHORT=1 (or --short): a quick run with fewer operations, for a smoke test; figures are noisier. */
export const SHORT = process.env.BENCH_SHORT === "1" || process.argv.includes("--short");
/** `full` ops normally, `short` in a short run. */
export const ops = (full: number, short: number) => (SHORT ? short : full);
