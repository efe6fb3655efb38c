import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

import { tmpDir } from "./browser";
import { freePort } from "./net";

export type Demo = { process: ChildProcess; base: string; output: () => string; dataDir: string };

/**
 * `npm run demo` (with `args`) as README command 1 runs it on a machine without PostgreSQL or
 * Redis: no DATABASE_URL, no REDIS_URL, a PATH on which only node is found (no redis-server, no
 * psql), its own data directory, and the suite's build (DEMO_BUILD=never: never rebuild under the
 * running e2e server). Resolves once it printed its URL.
 */
export async function startDemo(args: string[] = []): Promise<Demo> {
  const dataDir = tmpDir("qc-demo-");
  const binDir = tmpDir("qc-demo-bin-");
  fs.symlinkSync(process.execPath, path.join(binDir, "node"));
  const env = {
    NODE_ENV: "production" as const,
    PATH: binDir,
    HOME: process.env.HOME,
    PORT: String(await freePort()),
    DEMO_DATA_DIR: dataDir,
    NEXT_TELEMETRY_DISABLED: "1",
    DEMO_BUILD: "never",
  };
  const child = spawn(process.execPath, ["--import", "tsx", "scripts/demo.ts", ...args], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const deadline = Date.now() + 150_000;
  while (!output.includes("Quota console is running") && Date.now() < deadline && child.exitCode === null) {
    await new Promise((r) => setTimeout(r, 200));
  }
  if (!output.includes("Quota console is running")) throw new Error(`demo did not start:\n${output}`);
  const base = output.match(/Quota console is running: (http:\/\/\S+)/)![1];
  return { process: child, base, output: () => output, dataDir };
}

/** Stops the demo (SIGTERM) and removes its data directory. */
export async function stopDemo(demo: Demo | undefined): Promise<void> {
  if (!demo) return;
  if (demo.process.exitCode === null && demo.process.signalCode === null) {
    demo.process.kill("SIGTERM");
    await new Promise((r) => demo.process.once("exit", r));
  }
  fs.rmSync(demo.dataDir, { recursive: true, force: true });
}
