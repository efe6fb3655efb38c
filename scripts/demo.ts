// npm run demo — the console on embedded defaults, for a machine with nothing installed (no apt).
//
//  * DATABASE_URL unset → an embedded PostgreSQL (PGlite) with its data in .data/pglite, migrated
//    and served on a local port by a child process (scripts/lib/faults/pglite-server.ts, the
//    cycle-safe scripts/lib/pglite-server.mjs); demo data seeded.
//  * REDIS_URL unset → a private redis-server on a free local port if one is installed, else the
//    console runs without the shared cache and says so.
//  * builds the app when there is no build or the sources are newer, then serves it like `npm start`
//    (scripts/serve.mjs: listens on 127.0.0.1 unless HOST says otherwise).
//
// `npm run demo -- --attached` (or DEMO_ATTACHED=1): the console attached to a database laid out as
// a live gateway's (GATEWAY_DATABASE=attached): an embedded PGlite in .data/pglite-gateway with the
// gateway's tables (tests/fixtures/gateway-schema.sql, from docs/gateway/schema.md), the console's
// own tables in quota_console beside them, and the gateway's context seeded (lib/seed/gateway-demo.ts:
// groups, API keys, a subscription, usage_logs history, its registration switch). Its own database
// only: with DATABASE_URL set it refuses (to attach to your gateway, README "Attach to your sub2api").
//
// Environment: PORT (3000), HOST (127.0.0.1), DEMO_DATA_DIR (.data), DEMO_BUILD (auto | always |
// never), plus everything in README.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { PgliteServer, RedisProcess } from "./lib/faults";
import { waitForHealth } from "./lib/net";
import { onPath, run } from "./lib/run";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
process.chdir(root);
const dataDir = path.resolve(process.env.DEMO_DATA_DIR ?? ".data");
fs.mkdirSync(dataDir, { recursive: true });
const env: NodeJS.ProcessEnv = { ...process.env, NEXT_TELEMETRY_DISABLED: "1" };
const cleanups: Array<() => Promise<unknown> | unknown> = [];
const log = (msg: string) => console.log(`[demo] ${msg}`);
const attached = process.argv.includes("--attached") || process.env.DEMO_ATTACHED === "1";
if (attached) {
  if (env.DATABASE_URL) {
    console.error(
      '[demo] --attached starts its own gateway-layout database and cannot use DATABASE_URL; to attach the console to your gateway, see README "Attach to your sub2api"',
    );
    process.exit(1);
  }
  // The PGlite child (it reads process.env) loads the gateway's tables before the console's migrations.
  process.env.GATEWAY_DATABASE = env.GATEWAY_DATABASE = "attached";
  env.SEED_GATEWAY_DEMO = "1";
}

let stopping: Promise<never> | null = null;
/** Stops what the demo started (the app first, the databases last), then exits; once. */
function shutdown(code: number): Promise<never> {
  stopping ??= (async () => {
    for (const fn of cleanups.reverse()) await Promise.resolve(fn()).catch(() => {});
    process.exit(code);
  })();
  return stopping;
}
process.on("SIGINT", () => void shutdown(0));
process.on("SIGTERM", () => void shutdown(0));

function newestMtime(p: string): number {
  const st = fs.statSync(p, { throwIfNoEntry: false });
  if (!st) return 0;
  if (!st.isDirectory()) return st.mtimeMs;
  let max = st.mtimeMs;
  for (const e of fs.readdirSync(p)) if (e !== "generated") max = Math.max(max, newestMtime(path.join(p, e)));
  return max;
}

function needsBuild(): boolean {
  const id = path.join(root, ".next", "BUILD_ID");
  if (!fs.existsSync(id)) return true;
  const built = fs.statSync(id).mtimeMs;
  const sources = [
    "app",
    "components",
    "lib",
    "i18n",
    "messages",
    "public",
    "proxy.ts",
    "next.config.ts",
    "package.json",
  ];
  return sources.some((s) => newestMtime(path.join(root, s)) > built);
}

if (!env.DATABASE_URL) {
  const dir = path.join(dataDir, attached ? "pglite-gateway" : "pglite");
  log(
    `embedded PostgreSQL (PGlite)${attached ? ", laid out as a sub2api gateway's database (attached mode)" : ""}, data in ${path.relative(root, dir) || dir}`,
  );
  // PGlite is one session: the server runs one client's protocol cycle at a time and keeps a
  // transaction on the connection that opened it (scripts/lib/pglite-server.mjs), so pools are safe.
  const db = await PgliteServer.start({ dataDir: dir, migrate: true, maxConnections: 64, timeoutMs: 300_000 }).catch(
    async (e: unknown) => {
      console.error(`[demo] ${e instanceof Error ? e.message : e}`);
      return shutdown(1);
    },
  );
  cleanups.push(() => db.stop());
  env.DATABASE_URL = db.url();
  env.DATABASE_POOL_MAX ??= "4";
} else {
  log("using DATABASE_URL");
  if ((await run(process.execPath, ["scripts/migrate.mjs", "deploy"], env)) !== 0) await shutdown(1);
}

if (!env.REDIS_URL) {
  const redis = onPath("redis-server") ? await RedisProcess.start().catch(() => null) : null;
  if (redis) {
    cleanups.push(() => redis.cleanup());
    env.REDIS_URL = redis.url(0);
    log(`local redis-server on ${env.REDIS_URL}`);
  } else {
    log("redis-server is not installed: running WITHOUT the shared Redis cache (the console says so too)");
  }
} else log("using REDIS_URL");

const secretFile = path.join(dataDir, "session-secret");
if (!env.SESSION_SECRET) {
  if (!fs.existsSync(secretFile)) fs.writeFileSync(secretFile, randomBytes(32).toString("hex"), { mode: 0o600 });
  env.SESSION_SECRET = fs.readFileSync(secretFile, "utf8").trim();
}
env.COOKIE_SECURE ??= "false"; // the demo serves plain http

// The CLI tools (npm run simulate / flusher) find the demo's services through this file.
const demoEnvFile = path.join(dataDir, "demo-env.json");
fs.writeFileSync(
  demoEnvFile,
  JSON.stringify({
    DATABASE_URL: env.DATABASE_URL,
    REDIS_URL: env.REDIS_URL ?? null,
    QUOTA_TIMEZONE: env.QUOTA_TIMEZONE ?? "Asia/Shanghai",
    GATEWAY_DATABASE: env.GATEWAY_DATABASE ?? "standalone",
  }),
);
cleanups.push(() => fs.rmSync(demoEnvFile, { force: true }));

const tsx = path.join(root, "node_modules", ".bin", "tsx");
if ((await run(tsx, ["--conditions=react-server", "prisma/seed.ts"], env)) !== 0) await shutdown(1);

// DEMO_BUILD: auto (default: build when missing or older than the sources) | always | never
const buildMode = env.DEMO_BUILD ?? "auto";
if (buildMode === "never" && !fs.existsSync(path.join(root, ".next", "BUILD_ID"))) {
  log("no build found and DEMO_BUILD=never");
  await shutdown(1);
}
if (buildMode === "always" || (buildMode === "auto" && needsBuild())) {
  log("building the app (next build)…");
  if ((await run(process.execPath, ["node_modules/next/dist/bin/next", "build"], env)) !== 0) await shutdown(1);
}

const port = env.PORT ?? "3000";
const host = env.HOST ?? "127.0.0.1";
const app: ChildProcess = spawn(process.execPath, ["scripts/serve.mjs", "-p", port, "-H", host], {
  stdio: ["ignore", "inherit", "inherit"],
  env,
});
const appExited = new Promise<void>((r) => app.once("exit", () => r()));
cleanups.push(async () => {
  if (app.exitCode === null && app.signalCode === null) app.kill("SIGTERM");
  await appExited;
});
app.on("exit", (code) => void shutdown(code ?? 1));

const url = `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}`;
await waitForHealth(url, 60_000).catch(() => {});
const adminEmail = env.ADMIN_EMAIL ?? "admin@example.com";
const adminPassword = env.ADMIN_EMAIL ? "(your ADMIN_PASSWORD)" : "admin-demo-pass";
console.log(`
  Quota console is running: ${url}${attached ? "   (attached to a gateway-layout database: GATEWAY_DATABASE=attached)" : ""}
    admin:  ${adminEmail} / ${adminPassword}
    user:   alice@example.com / user-demo-pass   (and other demo users, same password)
  Gateway traffic: npm run simulate -- --email alice@example.com   (in another terminal)
  Press Ctrl+C to stop.
`);
