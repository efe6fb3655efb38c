import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import type { TestProject } from "vitest/node";
import { freePort, waitForHealth } from "./net";
import { testEnv } from "./test-env";

/** The server is started with these as ADMIN_EMAIL / ADMIN_PASSWORD (bootstrap admin). */
export const BOOTSTRAP_ADMIN = { email: "e2e-root@example.com", password: "e2e-root-password" };

declare module "vitest" {
  export interface ProvidedContext {
    baseURL: string;
  }
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: "inherit", env });
    child.on("exit", (code) => resolve(code ?? 1));
  });
}

/** Seeds the test database and serves the production build (`next start`) for the e2e suite. */
export default async function setup(project: TestProject) {
  testEnv();
  if (!fs.existsSync(".next/BUILD_ID")) throw new Error("no production build: run `npm test` (it builds before e2e)");
  if ((await run("node_modules/.bin/tsx", ["--conditions=react-server", "prisma/seed.ts"], process.env)) !== 0) {
    throw new Error("seed failed");
  }
  const port = await freePort();
  const server: ChildProcess = spawn(
    process.execPath,
    ["node_modules/next/dist/bin/next", "start", "-p", String(port), "-H", "127.0.0.1"],
    {
      env: { ...process.env, NODE_ENV: "production", ADMIN_EMAIL: BOOTSTRAP_ADMIN.email, ADMIN_PASSWORD: BOOTSTRAP_ADMIN.password },
      stdio: ["ignore", "inherit", "inherit"],
    },
  );
  const baseURL = `http://127.0.0.1:${port}`;
  await waitForHealth(baseURL, 60_000);
  project.provide("baseURL", baseURL);
  return async () => {
    server.kill("SIGTERM");
    await new Promise((r) => server.once("exit", r));
  };
}
