import { spawn } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import Redis from "ioredis";
import pg from "pg";

import { ensureGatewayLayout } from "./gateway-layout";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/**
 * `node scripts/migrate.mjs deploy` against `databaseUrl` (from the project root, with `env`); its
 * output is shown only when it fails. With GATEWAY_DATABASE=attached in `env`, a database without
 * the gateway's tables gets them first (scripts/lib/gateway-layout.ts) — these are throwaway
 * databases; the console itself never creates the gateway's tables.
 */
export async function migrateDatabase(databaseUrl: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (env.GATEWAY_DATABASE === "attached") await ensureGatewayLayout(databaseUrl, { searchPath: true });
  const childEnv: NodeJS.ProcessEnv = { ...env, DATABASE_URL: databaseUrl };
  delete childEnv.PGLITE_DIR; // migrate.mjs prefers PGLITE_DIR over DATABASE_URL
  const output: Buffer[] = [];
  const code = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, ["scripts/migrate.mjs", "deploy"], {
      cwd: root,
      env: childEnv,
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.on("data", (d: Buffer) => output.push(d));
    child.stderr.on("data", (d: Buffer) => output.push(d));
    child.on("error", () => resolve(1));
    child.on("exit", (c, signal) => resolve(c ?? (signal ? 1 : 0)));
  });
  if (code !== 0) throw new Error(`migrations failed (exit ${code}):\n${Buffer.concat(output).toString()}`);
}

const LOCAL_HOSTS = ["127.0.0.1", "localhost", "::1", "[::1]"];

/**
 * A run's own PostgreSQL database (migrated) and an empty Redis database number it claims (SET NX
 * of a claim key; a db with any key is skipped), both removed by cleanup() — run after success,
 * failure or a signal. Refuses non-local hosts unless the `remoteEnv` variable is 1. Used by the
 * benchmarks (bench/lib/services.ts) and the test runner (scripts/test.ts).
 */
export function throwawayServices(o: {
  dbName: string;
  baseDbUrl: string;
  baseRedisUrl: string;
  runId: string;
  claimKey: string;
  log: (m: string) => void;
  /** the variable that allows non-local hosts when set to 1 */
  remoteEnv: string;
  /** expiry of the claim key (default 3600 s) */
  claimTtlSeconds?: number;
  /** the environment scripts/migrate.mjs runs with (default process.env) */
  env?: NodeJS.ProcessEnv;
  /** claim only this Redis database number (still only if empty) — for a machine shared by several people */
  onlyRedisDb?: number;
}) {
  let dbCreated = false;
  let redisDb: number | null = null;
  let cleaned: Promise<void> | null = null;

  return {
    get redisDb() {
      return redisDb;
    },

    get dbName() {
      return o.dbName;
    },

    assertLocal(url: string, what: string) {
      const host = new URL(url).hostname;
      if (!LOCAL_HOSTS.includes(host) && process.env[o.remoteEnv] !== "1") {
        throw new Error(`refusing to run against non-local ${what} host ${host} (set ${o.remoteEnv}=1 to allow)`);
      }
    },

    async createDatabase(): Promise<string> {
      const admin = new pg.Client({ connectionString: o.baseDbUrl });
      await admin.connect();
      try {
        await admin.query(`CREATE DATABASE "${o.dbName}"`);
        dbCreated = true;
      } finally {
        await admin.end();
      }
      const u = new URL(o.baseDbUrl);
      u.pathname = `/${o.dbName}`;
      return u.toString();
    },

    migrate(databaseUrl: string): Promise<void> {
      return migrateDatabase(databaseUrl, o.env);
    },

    async claimRedisDb(): Promise<string> {
      const r = new Redis(o.baseRedisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
      r.on("error", () => {});
      await r.connect();
      try {
        const candidates = o.onlyRedisDb ? [o.onlyRedisDb] : Array.from({ length: 15 }, (_, i) => i + 1);
        for (const n of candidates) {
          if (redisDb !== null) break;
          await r.select(n);
          if ((await r.dbsize()) !== 0) continue;
          if ((await r.set(o.claimKey, o.runId, "EX", o.claimTtlSeconds ?? 3600, "NX")) === "OK") redisDb = n;
        }
      } finally {
        await r.quit();
      }
      if (redisDb === null)
        throw new Error(
          o.onlyRedisDb
            ? `Redis database ${o.onlyRedisDb} is not empty: cannot claim it for this run`
            : "no empty Redis database (1-15) to claim for this run",
        );
      const u = new URL(o.baseRedisUrl);
      u.pathname = `/${redisDb}`;
      return u.toString();
    },

    cleanup(): Promise<void> {
      cleaned ??= (async () => {
        if (dbCreated) {
          const admin = new pg.Client({ connectionString: o.baseDbUrl });
          try {
            await admin.connect();
            await admin.query(`DROP DATABASE IF EXISTS "${o.dbName}" WITH (FORCE)`);
            o.log(`dropped database ${o.dbName}`);
          } catch (e) {
            console.error(`could not drop database ${o.dbName}: ${String(e)}`);
          } finally {
            await admin.end().catch(() => {});
          }
        }
        if (redisDb !== null) {
          const r = new Redis(o.baseRedisUrl, { lazyConnect: true, maxRetriesPerRequest: 1, db: redisDb });
          r.on("error", () => {});
          try {
            await r.connect();
            if ((await r.get(o.claimKey)) === o.runId) {
              await r.flushdb();
              o.log(`flushed Redis db ${redisDb}`);
            } else {
              console.error(`Redis db ${redisDb}: claim no longer ours, left untouched`);
            }
          } catch (e) {
            console.error(`could not flush Redis db ${redisDb}: ${String(e)}`);
          } finally {
            r.disconnect();
          }
        }
      })();
      return cleaned;
    },
  };
}
