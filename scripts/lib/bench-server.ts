import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";

/**
 * What the benchmarks that serve the production build share: a free port, `next start` in its
 * own process group, waiting for /api/health, stopping it (SIGTERM, then SIGKILL), per-process-
 * group CPU time from /proc, and nearest-rank percentiles.
 */
const CLK_TCK = 100;
const progress = (m: string) => process.stderr.write(`[bench] ${m}\n`);

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

/** CPU seconds (user + system) used so far by every process of a process group; null without /proc. */
export function groupCpuSeconds(pgid: number | null): number | null {
  if (pgid === null || !fs.existsSync("/proc/self/stat")) return null;
  let ticks = 0;
  for (const d of fs.readdirSync("/proc")) {
    if (!/^[0-9]+$/.test(d)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${d}/stat`, "utf8");
    } catch {
      continue; // exited meanwhile
    }
    // After "(comm) ": [0] state (field 3), [2] pgrp (5), [11] utime (14), [12] stime (15).
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(f[2]) === pgid) ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks / CLK_TCK;
}

export { freePort } from "./faults/free-port";

export type Server = {
  child: ChildProcess;
  base: string;
  exited: Promise<void>;
  output: () => string;
  hasExited: () => boolean;
  stopping: Promise<void> | null;
};

/** `next start` in its own process group (it is stopped through that group: only what it started). */
export function startServer(port: number, env: NodeJS.ProcessEnv, nodeArgs: string[] = []): Server {
  const child = spawn(
    process.execPath,
    [...nodeArgs, "node_modules/next/dist/bin/next", "start", "-p", String(port), "-H", "127.0.0.1"],
    {
      env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    },
  );
  const tail: string[] = [];
  const keep = (d: Buffer) => {
    tail.push(...d.toString("utf8").split("\n").filter(Boolean));
    if (tail.length > 200) tail.splice(0, tail.length - 200);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  let done = false;
  const exited = new Promise<void>((resolve) => {
    child.on("exit", () => {
      done = true;
      resolve();
    });
    child.on("error", (e) => {
      tail.push(`spawn error: ${e.message}`);
      done = true;
      resolve();
    });
  });
  return {
    child,
    base: `http://127.0.0.1:${port}`,
    exited,
    output: () => tail.join("\n"),
    hasExited: () => done,
    stopping: null,
  };
}

export async function waitHealthy(s: Server, timeoutMs: number): Promise<unknown> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (s.hasExited()) throw new Error(`next start exited before it was healthy:\n${s.output()}`);
    try {
      const res = await fetch(`${s.base}/api/health`, { signal: AbortSignal.timeout(2000) });
      if (res.status === 200) return await res.json();
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline)
      throw new Error(`GET /api/health did not answer 200 within ${timeoutMs / 1000} s:\n${s.output()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** SIGTERM to the server's process group, SIGKILL after 5 s; idempotent. */
export function stopServer(s: Server): Promise<void> {
  s.stopping ??= stopServerOnce(s);
  return s.stopping;
}

async function stopServerOnce(s: Server): Promise<void> {
  if (s.hasExited() || s.child.pid === undefined) return;
  const pid = s.child.pid;
  const signalGroup = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      // already gone
    }
  };
  signalGroup("SIGTERM");
  const timedOut = await Promise.race([
    s.exited.then(() => false),
    new Promise<boolean>((r) => setTimeout(() => r(true), 5000)),
  ]);
  if (timedOut) {
    signalGroup("SIGKILL");
    await s.exited;
  }
  progress("server stopped");
}
