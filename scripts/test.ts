// npm test — the whole suite: static checks, unit, integration, build, e2e — and integration and
// e2e again attached to a database laid out as the gateway's (tests/fixtures/gateway-schema.sql,
// GATEWAY_DATABASE=attached; README "Attach to your sub2api").
//
//   npm test                      every phase
//   npm test -- unit integration  only the named phases (static unit integration integration-attached
//                                 build e2e e2e-attached)
//
// It uses DATABASE_URL / REDIS_URL when set, else the local servers (PostgreSQL 127.0.0.1:5432
// as postgres, Redis 127.0.0.1:6379). Each run creates its own database (qc_test_…) and claims an
// empty Redis database number (1–15, skipping any with keys), and drops / flushes them at the end,
// pass or fail; non-local hosts are refused unless ALLOW_REMOTE_TEST_DB=1. Where no PostgreSQL or
// Redis answers (and the URL is unset) it starts throwaway servers for the run. It installs nothing:
// a missing Debian package is reported with `npm run setup` to run. Last line:
// `tests: N passed, N failed, N skipped`.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { PostgresCluster, RedisProcess } from "./lib/faults";
import { reachable } from "./lib/net";
import { run } from "./lib/run";
import { missing, PACKAGES, setupHint, type SystemPackage } from "./lib/system-packages";
import { throwawayServices } from "./lib/throwaway-services";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
process.chdir(root);
const log = (m: string) => console.log(`\n[test] ${m}`);
const node = (script: string, args: string[], env: NodeJS.ProcessEnv) => run(process.execPath, [script, ...args], env);

type Env = NodeJS.ProcessEnv;
/**
 * One phase of the suite. `services`: it needs the run's database and Redis db — `attached`: the
 * gateway-layout ones.
 */
type Phase = {
  name: string;
  services: boolean;
  attached?: boolean;
  needs?: SystemPackage[];
  run: (env: Env) => Promise<number>;
};

const reportDir = fs.mkdtempSync(path.join(os.tmpdir(), "qc-test-"));
const totals = { passed: 0, failed: 0, skipped: 0 };

/** A vitest project with the default reporter on the terminal and a JSON report counted into the totals. */
async function vitest(project: string, env: Env): Promise<number> {
  const out = path.join(reportDir, `${project}-${Date.now()}.json`);
  const args = ["run", "--project", project, "--reporter=default", "--reporter=json", `--outputFile.json=${out}`];
  const code = await node("node_modules/vitest/vitest.mjs", args, env);
  if (fs.existsSync(out)) {
    const j = JSON.parse(fs.readFileSync(out, "utf8"));
    totals.passed += j.numPassedTests ?? 0;
    totals.failed += j.numFailedTests ?? 0;
    totals.skipped += (j.numPendingTests ?? 0) + (j.numTodoTests ?? 0);
  }
  return code;
}

/** Runs the steps in order and stops at the first that fails. */
async function steps(...fns: Array<() => Promise<number>>): Promise<number> {
  for (const fn of fns) {
    const code = await fn();
    if (code !== 0) return code;
  }
  return 0;
}

const PHASES: Phase[] = [
  {
    name: "static",
    services: false,
    run: (env) =>
      steps(
        () => node("node_modules/next/dist/bin/next", ["typegen"], env),
        () => node("node_modules/typescript/bin/tsc", ["--noEmit"], env),
        () => node("node_modules/eslint/bin/eslint.js", ["--max-warnings", "0", "."], env),
        () => node("node_modules/prettier/bin/prettier.cjs", ["--check", "--log-level", "warn", "."], env),
      ),
  },
  { name: "unit", services: false, run: (env) => vitest("unit", env) },
  { name: "integration", services: true, run: (env) => vitest("integration", env) },
  { name: "integration-attached", services: true, attached: true, run: (env) => vitest("integration", env) },
  {
    name: "build",
    services: false,
    run: (env) => node("node_modules/next/dist/bin/next", ["build"], { ...env, NODE_ENV: "production" }),
  },
  { name: "e2e", services: true, needs: [PACKAGES.chromium], run: (env) => vitest("e2e", env) },
  {
    name: "e2e-attached",
    services: true,
    attached: true,
    needs: [PACKAGES.chromium],
    run: (env) => vitest("e2e", env),
  },
];

const wanted = process.argv.slice(2).filter((a) => PHASES.some((p) => p.name === a));
const phases = wanted.length ? PHASES.filter((p) => wanted.includes(p.name)) : PHASES;
const runId = `${Date.now().toString(36)}_${process.pid}`;
const cleanups: Array<() => Promise<unknown>> = []; // run in reverse, pass or fail

/** Fails with the `npm run setup` hint when a required package is missing; warns for optional ones. */
function requirePackages(pkgs: SystemPackage[]): void {
  const absent = missing(pkgs);
  const required = absent.filter((p) => !p.optional);
  if (required.length) throw new Error(setupHint(required));
  for (const p of absent) log(`note: ${setupHint([p])}`);
}

/**
 * The run's database and Redis db on the given servers — or on throwaway ones (a PostgreSQL
 * cluster, a diskless redis-server) where none answers and the URL is unset, or when
 * QC_TEST_THROWAWAY_SERVICES=1.
 */
async function setupServices(env: Env, layouts: { standalone: boolean; attached: boolean }): Promise<Layouts> {
  const force = process.env.QC_TEST_THROWAWAY_SERVICES === "1";
  let baseDbUrl = process.env.DATABASE_URL || "postgresql://postgres@127.0.0.1:5432/postgres";
  let baseRedisUrl = process.env.REDIS_URL || "redis://127.0.0.1:6379";
  if (!process.env.DATABASE_URL && (force || !(await reachable(baseDbUrl, 5432)))) {
    requirePackages([PACKAGES.postgresql]);
    const pg = await PostgresCluster.start({ settings: { synchronous_commit: "off" } });
    cleanups.push(() => pg.cleanup());
    baseDbUrl = pg.url();
    log(`throwaway PostgreSQL on 127.0.0.1:${pg.port}`);
  }
  if (!process.env.REDIS_URL && (force || !(await reachable(baseRedisUrl, 6379)))) {
    requirePackages([PACKAGES.redis]);
    const redis = await RedisProcess.start();
    cleanups.push(() => redis.cleanup());
    baseRedisUrl = redis.url();
    log(`throwaway Redis on 127.0.0.1:${redis.port}`);
  }
  // Each layout its own database and Redis db, so the attached phases start as clean as the others.
  const services = async (attached: boolean): Promise<Env> => {
    const layoutEnv: Env = attached ? { ...env, GATEWAY_DATABASE: "attached" } : env;
    const s = throwawayServices({
      ...{
        dbName: `qc_test_${runId}${attached ? "_gw" : ""}`,
        baseDbUrl,
        baseRedisUrl,
        runId,
        claimKey: "qc:test:claim",
      },
      ...{ log: (m: string) => log(m), remoteEnv: "ALLOW_REMOTE_TEST_DB", claimTtlSeconds: 7200, env: layoutEnv },
    });
    s.assertLocal(baseDbUrl, "PostgreSQL");
    s.assertLocal(baseRedisUrl, "Redis");
    cleanups.push(() => s.cleanup());
    const DATABASE_URL = await s.createDatabase();
    const REDIS_URL = await s.claimRedisDb();
    log(`${attached ? "attached (gateway layout)" : "standalone"}: database ${s.dbName}, Redis db ${s.redisDb}`);
    // Attached: migrate loads the gateway's tables first (scripts/lib/gateway-layout.ts).
    await s.migrate(DATABASE_URL);
    return { ...layoutEnv, DATABASE_URL, REDIS_URL };
  };
  return {
    standalone: layouts.standalone ? await services(false) : env,
    attached: layouts.attached ? await services(true) : env,
  };
}

type Layouts = { standalone: Env; attached: Env };

const started = Date.now();
let failed = false;
try {
  const env: Env = {
    ...process.env,
    NEXT_TELEMETRY_DISABLED: "1",
    QC_TEST_RUN: "1",
    SESSION_SECRET: randomBytes(32).toString("hex"),
    LOGIN_MAX_FAILURES: "5",
    LOGIN_WINDOW_SECONDS: "900",
  };
  requirePackages(
    phases.flatMap((p) => p.needs ?? []).concat(phases.some((p) => p.name === "e2e") ? [PACKAGES.fonts] : []),
  );
  const layouts = phases.some((p) => p.services)
    ? await setupServices(env, {
        standalone: phases.some((p) => p.services && !p.attached),
        attached: phases.some((p) => p.attached),
      })
    : { standalone: env, attached: env };
  for (const phase of phases) {
    const t0 = Date.now();
    log(`phase ${phase.name}`);
    const code = await phase.run(phase.attached ? layouts.attached : layouts.standalone);
    log(`phase ${phase.name} ${code === 0 ? "passed" : "FAILED"} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    if (code !== 0) {
      failed = true;
      break;
    }
  }
} catch (e) {
  console.error(`[test] ${e instanceof Error ? e.message : String(e)}`);
  failed = true;
} finally {
  for (const fn of cleanups.reverse()) {
    await fn().catch((e: unknown) => console.error(`[test] cleanup failed: ${e instanceof Error ? e.message : e}`));
  }
  fs.rmSync(reportDir, { recursive: true, force: true });
}
log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
console.log(`tests: ${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped`);
process.exit(failed || totals.failed > 0 ? 1 : 0);
