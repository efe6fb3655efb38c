// npm test — the whole suite on a fresh machine: static checks, unit, integration, build, e2e.
//
//   npm test                      every phase
//   npm test -- unit integration  only the named phases (static unit integration build e2e)
//
// It uses DATABASE_URL / REDIS_URL when set, else the local servers (PostgreSQL 127.0.0.1:5432
// as postgres, Redis 127.0.0.1:6379). Each run creates its own database (qc_test_…) and claims an
// empty Redis database number (1–15), and drops / flushes them at the end, pass or fail. Where no
// PostgreSQL or Redis answers (and the URL is unset) it starts throwaway servers for the run,
// installing Debian's packages first when it runs as root; likewise Chromium for e2e.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import Redis from "ioredis";
import pg from "pg";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
process.chdir(root);
const PHASES = ["static", "unit", "integration", "build", "e2e"];
const wanted = process.argv.slice(2).filter((a) => PHASES.includes(a));
const phases = wanted.length ? wanted : PHASES;
const needsServices = phases.some((p) => p === "integration" || p === "e2e");
const runId = `${Date.now().toString(36)}_${process.pid}`;
const reportDir = fs.mkdtempSync(path.join(os.tmpdir(), "qc-test-"));
const started = Date.now();
const log = (m) => console.log(`\n[test] ${m}`);

function run(cmd, args, env = process.env) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: "inherit", env });
    child.on("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

/**
 * E2E needs Debian's Chromium (never a downloaded browser) and CJK fonts for readable
 * screenshots. As root they are installed with apt-get; otherwise the command to run is printed.
 */
async function ensureChromium() {
  const chromium = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
  const fonts = fs.existsSync("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc");
  if (fs.existsSync(chromium) && fonts) return;
  const pkgs = [fs.existsSync(chromium) ? null : "chromium", fonts ? null : "fonts-noto-cjk"].filter(Boolean);
  try {
    await aptInstall(pkgs);
  } catch (e) {
    if (!fs.existsSync(chromium)) throw e; // fonts only make screenshots readable
  }
}

function assertLocal(url, what) {
  const host = new URL(url).hostname;
  if (!["127.0.0.1", "localhost", "::1", "[::1]"].includes(host) && process.env.ALLOW_REMOTE_TEST_DB !== "1") {
    throw new Error(
      `refusing to run tests against non-local ${what} host ${host} (set ALLOW_REMOTE_TEST_DB=1 to allow)`,
    );
  }
}

let baseDbUrl = process.env.DATABASE_URL || "postgresql://postgres@127.0.0.1:5432/postgres";
let baseRedisUrl = process.env.REDIS_URL || "redis://127.0.0.1:6379";
const throwaway = []; // stop functions of servers this run started itself

function reachable(url, defaultPort) {
  const u = new URL(url);
  return new Promise((resolve) => {
    const s = net.connect(Number(u.port || defaultPort), u.hostname.replace(/^\[|\]$/g, ""), () => {
      s.end();
      resolve(true);
    });
    s.on("error", () => resolve(false));
    s.setTimeout(1000, () => {
      s.destroy();
      resolve(false);
    });
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function aptInstall(pkgs) {
  if (process.getuid?.() !== 0)
    throw new Error(`missing ${pkgs.join(", ")}: sudo apt-get install -y ${pkgs.join(" ")}`);
  log(`installing ${pkgs.join(", ")} (apt-get)`);
  const aptEnv = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  await run("apt-get", ["update", "-qq"], aptEnv);
  if ((await run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...pkgs], aptEnv)) !== 0) {
    throw new Error(`apt-get install ${pkgs.join(" ")} failed`);
  }
}

/**
 * On a machine where no PostgreSQL answers at the default address (and DATABASE_URL is unset),
 * start a throwaway cluster (initdb, trust auth, fsync off) on a free port for this run only.
 */
async function throwawayPostgres() {
  const findInitdb = () => {
    const base = "/usr/lib/postgresql";
    if (!fs.existsSync(base)) return null;
    const v = fs
      .readdirSync(base)
      .sort((a, b) => Number(b) - Number(a))
      .find((d) => fs.existsSync(`${base}/${d}/bin/initdb`));
    return v ? `${base}/${v}/bin` : null;
  };
  if (!findInitdb()) await aptInstall(["postgresql"]);
  const bin = findInitdb();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "qc-pg-"));
  const port = await freePort();
  const asRoot = process.getuid?.() === 0;
  if (asRoot)
    fs.chownSync(
      dir,
      ...(() => {
        const line = fs
          .readFileSync("/etc/passwd", "utf8")
          .split("\n")
          .find((l) => l.startsWith("postgres:"));
        if (!line) throw new Error("no postgres system user to run the throwaway cluster");
        const [, , uid, gid] = line.split(":");
        return [Number(uid), Number(gid)];
      })(),
    );
  const as = (args) => (asRoot ? ["runuser", ["-u", "postgres", "--", ...args]] : [args[0], args.slice(1)]);
  const [c1, a1] = as([`${bin}/initdb`, "-D", `${dir}/data`, "-A", "trust", "-U", "postgres"]);
  if ((await run(c1, [...a1, "--no-sync"], { ...process.env, LC_ALL: "C.UTF-8" })) !== 0)
    throw new Error("initdb failed");
  const [c2, a2] = as([
    `${bin}/pg_ctl`,
    "-D",
    `${dir}/data`,
    "-l",
    `${dir}/pg.log`,
    "-w",
    "-o",
    `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c fsync=off -c synchronous_commit=off`,
    "start",
  ]);
  if ((await run(c2, a2)) !== 0) throw new Error(`throwaway PostgreSQL did not start (see ${dir}/pg.log)`);
  throwaway.push(async () => {
    const [c3, a3] = as([`${bin}/pg_ctl`, "-D", `${dir}/data`, "-m", "immediate", "stop"]);
    await run(c3, a3);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  log(`throwaway PostgreSQL on 127.0.0.1:${port}`);
  return `postgresql://postgres@127.0.0.1:${port}/postgres`;
}

/** Likewise a private, diskless redis-server when none answers and REDIS_URL is unset. */
async function throwawayRedis() {
  const onPath = (cmd) =>
    (process.env.PATH ?? "").split(path.delimiter).some((d) => d && fs.existsSync(path.join(d, cmd)));
  if (!onPath("redis-server")) await aptInstall(["redis-server"]);
  const port = await freePort();
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { stdio: "ignore" },
  );
  throwaway.push(async () => {
    child.kill("SIGTERM");
  });
  const url = `redis://127.0.0.1:${port}`;
  for (let i = 0; i < 50 && !(await reachable(url, 6379)); i++) await new Promise((r) => setTimeout(r, 100));
  log(`throwaway Redis on 127.0.0.1:${port}`);
  return url;
}
const dbName = `qc_test_${runId}`;
let redisDb = null;
let dbCreated = false;

async function setupServices() {
  const force = process.env.QC_TEST_THROWAWAY_SERVICES === "1";
  if (!process.env.DATABASE_URL && (force || !(await reachable(baseDbUrl, 5432))))
    baseDbUrl = await throwawayPostgres();
  if (!process.env.REDIS_URL && (force || !(await reachable(baseRedisUrl, 6379))))
    baseRedisUrl = await throwawayRedis();
  assertLocal(baseDbUrl, "PostgreSQL");
  assertLocal(baseRedisUrl, "Redis");
  const admin = new pg.Client({ connectionString: baseDbUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${dbName}"`);
  await admin.end();
  dbCreated = true;
  const dbUrl = new URL(baseDbUrl);
  dbUrl.pathname = `/${dbName}`;

  const r = new Redis(baseRedisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await r.connect();
  for (let n = 1; n <= 15 && redisDb === null; n++) {
    await r.select(n);
    if ((await r.dbsize()) !== 0) continue;
    if ((await r.set("qc:test:claim", runId, "EX", 7200, "NX")) === "OK") redisDb = n;
  }
  await r.quit();
  if (redisDb === null) throw new Error("no empty Redis database (1-15) to claim for this run");
  const redisUrl = new URL(baseRedisUrl);
  redisUrl.pathname = `/${redisDb}`;
  return { DATABASE_URL: dbUrl.toString(), REDIS_URL: redisUrl.toString() };
}

async function cleanup() {
  if (dbCreated) {
    const admin = new pg.Client({ connectionString: baseDbUrl });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
    await admin.end();
  }
  if (redisDb !== null) {
    const r = new Redis(baseRedisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, db: redisDb });
    await r.connect();
    if ((await r.get("qc:test:claim")) === runId) await r.flushdb();
    await r.quit();
  }
  for (const stop of throwaway.reverse()) await stop();
}

const totals = { passed: 0, failed: 0, skipped: 0 };
function addReport(file) {
  if (!fs.existsSync(file)) return;
  const j = JSON.parse(fs.readFileSync(file, "utf8"));
  totals.passed += j.numPassedTests ?? 0;
  totals.failed += j.numFailedTests ?? 0;
  totals.skipped += (j.numPendingTests ?? 0) + (j.numTodoTests ?? 0);
}

async function vitest(project, env) {
  const out = path.join(reportDir, `${project}.json`);
  const code = await run(
    process.execPath,
    [
      "node_modules/vitest/vitest.mjs",
      "run",
      "--project",
      project,
      "--reporter=default",
      "--reporter=json",
      `--outputFile.json=${out}`,
    ],
    env,
  );
  addReport(out);
  return code;
}

let failed = false;
try {
  const env = {
    ...process.env,
    NEXT_TELEMETRY_DISABLED: "1",
    QC_TEST_RUN: "1",
    SESSION_SECRET: randomBytes(32).toString("hex"),
    LOGIN_MAX_FAILURES: "5",
    LOGIN_WINDOW_SECONDS: "900",
  };
  if (phases.includes("e2e")) await ensureChromium();
  if (needsServices) {
    Object.assign(env, await setupServices());
    log(`database ${dbName}, Redis db ${redisDb}`);
    const m = await run(process.execPath, ["scripts/migrate.mjs", "deploy"], env);
    if (m !== 0) throw new Error("migrations failed");
  }
  for (const phase of phases) {
    const t0 = Date.now();
    log(`phase ${phase}`);
    let code = 0;
    if (phase === "static") {
      code =
        (await run(process.execPath, ["node_modules/next/dist/bin/next", "typegen"], env)) ||
        (await run(process.execPath, ["node_modules/typescript/bin/tsc", "--noEmit"], env)) ||
        (await run(process.execPath, ["node_modules/eslint/bin/eslint.js", "--max-warnings", "0", "."], env)) ||
        (await run(
          process.execPath,
          ["node_modules/prettier/bin/prettier.cjs", "--check", "--log-level", "warn", "."],
          env,
        ));
    } else if (phase === "build") {
      code = await run(process.execPath, ["node_modules/next/dist/bin/next", "build"], {
        ...env,
        NODE_ENV: "production",
      });
    } else {
      code = await vitest(phase, env);
    }
    log(`phase ${phase} ${code === 0 ? "passed" : "FAILED"} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    if (code !== 0) {
      failed = true;
      break;
    }
  }
} catch (e) {
  console.error(`[test] ${e instanceof Error ? e.message : e}`);
  failed = true;
} finally {
  await cleanup().catch((e) => console.error(`[test] cleanup failed: ${e.message}`));
  fs.rmSync(reportDir, { recursive: true, force: true });
}
log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
console.log(`tests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exit(failed || totals.failed > 0 ? 1 : 0);
