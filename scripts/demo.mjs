// npm run demo — the console on embedded defaults, for a machine with nothing installed.
//
//  * DATABASE_URL unset → an embedded PostgreSQL (PGlite) with its data in .data/pglite, served on
//    a local port (scripts/lib/pglite-server.mjs); migrations applied; demo data seeded.
//  * REDIS_URL unset → a private redis-server on a free local port if one is installed, else the
//    console runs without the shared cache and says so.
//  * builds the app when there is no build or the sources are newer, then serves it like `npm start`
//    (scripts/serve.mjs: listens on 127.0.0.1 unless HOST says otherwise).
//
// Environment: PORT (3000), HOST (127.0.0.1), DEMO_DATA_DIR (.data), DEMO_BUILD (auto | always |
// never), plus everything in README.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
process.chdir(root);
const dataDir = path.resolve(process.env.DEMO_DATA_DIR ?? ".data");
fs.mkdirSync(dataDir, { recursive: true });
const env = { ...process.env, NEXT_TELEMETRY_DISABLED: "1" };
const children = [];
const cleanups = [];
const log = (msg) => console.log(`[demo] ${msg}`);

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Run a child to completion without blocking this process (it serves the embedded database). */
function run(cmd, args) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: "inherit", env });
    children.push(child);
    child.on("exit", (code) => resolve(code ?? 1));
  });
}

function onPath(cmd) {
  return (process.env.PATH ?? "").split(path.delimiter).some((d) => d && fs.existsSync(path.join(d, cmd)));
}

async function shutdown(code) {
  for (const c of children) if (c.exitCode === null) c.kill("SIGTERM");
  for (const fn of cleanups.reverse()) await fn().catch(() => {});
  process.exit(code);
}
process.on("SIGINT", () => shutdown(0));
process.on("SIGTERM", () => shutdown(0));

async function startEmbeddedPostgres() {
  const { PGlite } = await import("@electric-sql/pglite");
  const { servePglite } = await import("./lib/pglite-server.mjs");
  const dir = path.join(dataDir, "pglite");
  log(`embedded PostgreSQL (PGlite), data in ${path.relative(root, dir) || dir}`);
  const db = await PGlite.create(dir);
  // Migrations run in-process on the same instance, before any client connects.
  globalThis.__qcPglite = db;
  const { run } = await import("./migrate.mjs");
  if ((await run("deploy")) !== 0) throw new Error("migrations failed");
  delete globalThis.__qcPglite;
  // PGlite is one session: the server runs one client's protocol cycle at a time and keeps a
  // transaction on the connection that opened it (scripts/lib/pglite-server.mjs), so pools are safe.
  const server = await servePglite(db, { host: "127.0.0.1", port: 0, maxConnections: 64 });
  cleanups.push(async () => {
    await server.close();
    await db.close();
  });
  const port = server.port;
  return { url: `postgresql://postgres:postgres@127.0.0.1:${port}/postgres?sslmode=disable`, poolMax: "4" };
}

async function startLocalRedis() {
  if (!onPath("redis-server")) return null;
  const port = await freePort();
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    {
      stdio: "ignore",
    },
  );
  children.push(child);
  for (let i = 0; i < 50; i++) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, "127.0.0.1", () => {
        s.end();
        resolve(true);
      });
      s.on("error", () => resolve(false));
    });
    if (ok) return `redis://127.0.0.1:${port}/0`;
    if (child.exitCode !== null) return null;
    await new Promise((r) => setTimeout(r, 100));
  }
  return null;
}

function newestMtime(p) {
  const st = fs.statSync(p, { throwIfNoEntry: false });
  if (!st) return 0;
  if (!st.isDirectory()) return st.mtimeMs;
  let max = st.mtimeMs;
  for (const e of fs.readdirSync(p)) if (e !== "generated") max = Math.max(max, newestMtime(path.join(p, e)));
  return max;
}

function needsBuild() {
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
  const pg = await startEmbeddedPostgres();
  env.DATABASE_URL = pg.url;
  env.DATABASE_POOL_MAX ??= pg.poolMax;
} else {
  log("using DATABASE_URL");
  if ((await run(process.execPath, ["scripts/migrate.mjs", "deploy"])) !== 0) await shutdown(1);
}

if (!env.REDIS_URL) {
  const url = await startLocalRedis();
  if (url) {
    env.REDIS_URL = url;
    log(`local redis-server on ${url}`);
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
  }),
);
cleanups.push(async () => fs.rmSync(demoEnvFile, { force: true }));

const tsx = path.join(root, "node_modules", ".bin", "tsx");
if ((await run(tsx, ["--conditions=react-server", "prisma/seed.ts"])) !== 0) await shutdown(1);

// DEMO_BUILD: auto (default: build when missing or older than the sources) | always | never
const buildMode = env.DEMO_BUILD ?? "auto";
if (buildMode === "never" && !fs.existsSync(path.join(root, ".next", "BUILD_ID"))) {
  log("no build found and DEMO_BUILD=never");
  await shutdown(1);
}
if (buildMode === "always" || (buildMode === "auto" && needsBuild())) {
  log("building the app (next build)…");
  if ((await run(process.execPath, ["node_modules/next/dist/bin/next", "build"])) !== 0) await shutdown(1);
}

const port = env.PORT ?? "3000";
const host = env.HOST ?? "127.0.0.1";
const app = spawn(process.execPath, ["scripts/serve.mjs", "-p", port, "-H", host], {
  stdio: ["ignore", "inherit", "inherit"],
  env,
});
children.push(app);
app.on("exit", (code) => shutdown(code ?? 1));

const url = `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}`;
for (let i = 0; i < 300; i++) {
  try {
    const res = await fetch(`${url}/api/health`);
    if (res.ok || res.status === 503) break;
  } catch {
    // not up yet
  }
  await new Promise((r) => setTimeout(r, 200));
}
const adminEmail = env.ADMIN_EMAIL ?? "admin@example.com";
const adminPassword = env.ADMIN_EMAIL ? "(your ADMIN_PASSWORD)" : "admin-demo-pass";
console.log(`
  Quota console is running: ${url}
    admin:  ${adminEmail} / ${adminPassword}
    user:   alice@example.com / user-demo-pass   (and other demo users, same password)
  Gateway traffic: npm run simulate -- --email alice@example.com   (in another terminal)
  Press Ctrl+C to stop.
`);
