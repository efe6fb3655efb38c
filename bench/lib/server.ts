import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";

import { freePort, waitForHealth } from "@/scripts/lib/net";

import { onCleanup, onFailure, root } from "./lifecycle";
import { BenchError, progress } from "./run";

/** USER_HZ: the unit of utime / stime in /proc/<pid>/stat (100 on Linux x86 and arm). */
const CLK_TCK = 100;

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

/**
 * The production build's id; throws when there is none, or when it lacks `route` (a key of
 * .next/server/app-paths-manifest.json). Benchmarks never build themselves.
 */
export function productionBuild(route?: string): string {
  const idFile = path.join(root, ".next/BUILD_ID");
  if (!fs.existsSync(idFile))
    throw new BenchError("no production build (.next/BUILD_ID is missing): run `npm run build`");
  const id = fs.readFileSync(idFile, "utf8").trim();
  if (route) {
    const manifest = JSON.parse(fs.readFileSync(path.join(root, ".next/server/app-paths-manifest.json"), "utf8"));
    if (!(route in manifest)) throw new BenchError(`the production build ${id} has no ${route}: run \`npm run build\``);
  }
  return id;
}

/**
 * The server's environment: this process's, with the run's database, Redis db and session secret,
 * production mode, and none of the variables that would change what is measured (an embedded
 * database, plain-http cookies, a bootstrap admin, a pool size, a port).
 */
export function serverEnv(o: { databaseUrl: string; redisUrl: string; sessionSecret: string }): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: o.databaseUrl,
    REDIS_URL: o.redisUrl,
    SESSION_SECRET: o.sessionSecret,
    NODE_ENV: "production",
    NEXT_TELEMETRY_DISABLED: "1",
    QUOTA_TIMEZONE: quotaTimeZone(),
  };
  for (const k of ["PGLITE_DIR", "COOKIE_SECURE", "ADMIN_EMAIL", "ADMIN_PASSWORD", "PORT", "HOST", "HOSTNAME"])
    delete env[k];
  delete env.DATABASE_POOL_MAX;
  return env;
}

export const quotaTimeZone = () => process.env.QUOTA_TIMEZONE || "Asia/Shanghai";

export type Server = {
  base: string;
  /** CPU seconds of the server's process group so far (null without /proc) */
  cpuSeconds: () => number | null;
  /** the last 200 lines it printed */
  output: () => string;
  stop: () => Promise<void>;
};

/**
 * The Node.js binary the servers run on: BENCH_NODE (e.g. a Node 24 build, to compare runtimes on
 * the same build and data), else this process's.
 */
export const serverNode = () => process.env.BENCH_NODE || process.execPath;

/** `node --version` of serverNode(), e.g. "v20.20.2". */
export function serverNodeVersion(): string {
  return execFileSync(serverNode(), ["--version"], { encoding: "utf8" }).trim();
}

/**
 * The production build served as `npm start` serves it (scripts/serve.mjs) on a free 127.0.0.1 port,
 * in its own process group (stopped through that group: only what it started; CPU counted over it).
 * Resolves once GET /api/health answers 200; stopped at cleanup. `nodeArgs`, e.g. --cpu-prof;
 * `script`, another server taking the same -p / -H (startRawQuotaServer).
 */
export async function startServer(
  env: NodeJS.ProcessEnv,
  nodeArgs: string[] = [],
  script = "scripts/serve.mjs",
): Promise<Server> {
  const port = await freePort();
  const child: ChildProcess = spawn(serverNode(), [...nodeArgs, script, "-p", String(port), "-H", "127.0.0.1"], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const tail: string[] = [];
  const keep = (d: Buffer) => {
    tail.push(...d.toString("utf8").split("\n").filter(Boolean));
    if (tail.length > 200) tail.splice(0, tail.length - 200);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  let done = false;
  const exited = new Promise<void>((resolve) => {
    child.on("exit", () => resolve(void (done = true)));
    child.on("error", (e) => {
      tail.push(`spawn error: ${e.message}`);
      resolve(void (done = true));
    });
  });
  let stopping: Promise<void> | null = null;
  const pgid = child.pid ?? null;
  const server: Server = {
    base: `http://127.0.0.1:${port}`,
    cpuSeconds: () => (done ? null : groupCpuSeconds(pgid)),
    output: () => tail.join("\n"),
    stop: () => (stopping ??= stopGroup(pgid, exited, () => done)),
  };
  onCleanup(server.stop);
  onFailure(() => (stopping ? null : `last server output:\n${tail.slice(-40).join("\n")}`));
  const t0 = performance.now();
  const health = (await waitForHealth(server.base, 60_000, {
    accept: [200],
    exited: () => (done ? server.output() : null),
  })) as { status?: string } | null;
  progress(
    `server on ${server.base} healthy (${health?.status ?? "?"}) after ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  return server;
}

/** SIGTERM to the process group, SIGKILL after 5 s. */
async function stopGroup(pgid: number | null, exited: Promise<void>, done: () => boolean): Promise<void> {
  if (done() || pgid === null) return;
  const signalGroup = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pgid, sig);
    } catch {
      // already gone
    }
  };
  signalGroup("SIGTERM");
  const timedOut = await Promise.race([
    exited.then(() => false),
    new Promise<boolean>((r) => setTimeout(() => r(true), 5000)),
  ]);
  if (timedOut) {
    signalGroup("SIGKILL");
    await exited;
  }
  progress("server stopped");
}

/**
 * The quota API's raw baseline (bench/lib/raw-quota-server.ts: node:http, the app's session lookup,
 * quota query and Redis pipeline, no Next.js), measured like the app server (its own process group).
 */
export function startRawQuotaServer(env: NodeJS.ProcessEnv, nodeArgs: string[] = []): Promise<Server> {
  return startServer(
    env,
    [...nodeArgs, "--import", "tsx", "--conditions=react-server"],
    "bench/lib/raw-quota-server.ts",
  );
}
