import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import type { TestProject } from "vitest/node";

import { run } from "@/scripts/lib/run";

import { freePort, waitForHealth } from "./net";
import { testEnv } from "./test-env";

/** The server is started with these as ADMIN_EMAIL / ADMIN_PASSWORD (bootstrap admin). */
export const BOOTSTRAP_ADMIN = { email: "e2e-root@example.com", password: "e2e-root-password" };

/** The server's METRICS_TOKEN: /api/metrics answers only `Authorization: Bearer <this>`. */
export const E2E_METRICS_TOKEN = "e2e-metrics-token-0123456789abcdef";

declare module "vitest" {
  export interface ProvidedContext {
    baseURL: string;
  }
}

export type NextServer = { baseURL: string; output: () => string; stop: () => Promise<void> };

/**
 * The production build served as `npm start` serves it (scripts/serve.mjs: Next's request handler
 * behind a server that reports the socket peer address) on a free 127.0.0.1 port with this
 * environment (production mode).
 * Returns once /api/health answers (200 or 503, so a server whose database is down counts as
 * started). `capture`: keep stdout/stderr for assertions instead of printing them.
 */
export async function startNextServer(env: NodeJS.ProcessEnv, opts: { capture?: boolean } = {}): Promise<NextServer> {
  const port = await freePort();
  const server: ChildProcess = spawn(process.execPath, ["scripts/serve.mjs", "-p", String(port), "-H", "127.0.0.1"], {
    env: { ...env, NODE_ENV: "production" },
    stdio: ["ignore", opts.capture ? "pipe" : "inherit", opts.capture ? "pipe" : "inherit"],
  });
  let output = "";
  server.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  server.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((r) => server.once("exit", () => r()));
  const stop = async () => {
    if (server.exitCode === null && server.signalCode === null) server.kill("SIGTERM");
    await exited;
  };
  const baseURL = `http://127.0.0.1:${port}`;
  try {
    await waitForHealth(baseURL, 60_000);
  } catch (e) {
    await stop();
    throw e;
  }
  return { baseURL, output: () => output, stop };
}

/** Seeds the test database and serves the production build (`npm start`) for the e2e suite. */
export default async function setup(project: TestProject) {
  testEnv();
  if (!fs.existsSync(".next/BUILD_ID")) throw new Error("no production build: run `npm test` (it builds before e2e)");
  if ((await run("node_modules/.bin/tsx", ["--conditions=react-server", "prisma/seed.ts"], process.env)) !== 0) {
    throw new Error("seed failed");
  }
  const server = await startNextServer({
    ...process.env,
    ADMIN_EMAIL: BOOTSTRAP_ADMIN.email,
    ADMIN_PASSWORD: BOOTSTRAP_ADMIN.password,
    METRICS_TOKEN: E2E_METRICS_TOKEN,
    // The operator's switch on, so the admin's switch decides (tests/e2e/registration.test.ts
    // starts a server without it to show the default).
    REGISTRATION_ENABLED: "true",
  });
  project.provide("baseURL", server.baseURL);
  return server.stop;
}
