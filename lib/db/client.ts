import "server-only";

import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";

import { PG_SEARCH_PATH, PG_TIMEOUTS } from "@/lib/billing/connections";
import { env } from "@/lib/config/env";
import { PrismaClient } from "@/lib/generated/prisma/client";

/**
 * The process's one PostgreSQL pool, shared by Prisma (through its driver adapter) and by
 * lib/billing's repository (plain SQL on the hot path), plus the one Prisma client.
 * `password_hash` is omitted globally so no query can hand it to a page by accident; the password
 * check asks for it explicitly (lib/auth/credentials.ts).
 */
function createPool() {
  const { DATABASE_URL, DATABASE_POOL_MAX } = env();
  // Every query is bounded (a hung or paused database costs seconds, never a request that never ends).
  // search_path: console tables (quota_console) first, then the gateway's public. Prisma qualifies
  // every table itself (@@schema); the plain SQL of lib/billing and others relies on this.
  const pool = new pg.Pool({
    connectionString: DATABASE_URL,
    max: DATABASE_POOL_MAX,
    ...PG_TIMEOUTS,
    ...PG_SEARCH_PATH,
    keepAlive: true,
  });
  pool.on("error", (e) => console.error("[db] idle client error", e.message));
  return pool;
}

function createClient(pool: pg.Pool) {
  return new PrismaClient({ adapter: new PrismaPg(pool), omit: { user: { passwordHash: true } } });
}

export type Db = ReturnType<typeof createClient>;

const globalForDb = globalThis as unknown as { qcPool?: pg.Pool; qcDb?: Db };

export function pgPool(): pg.Pool {
  globalForDb.qcPool ??= createPool();
  return globalForDb.qcPool;
}

export function db(): Db {
  globalForDb.qcDb ??= createClient(pgPool());
  return globalForDb.qcDb;
}
