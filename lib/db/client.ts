import "server-only";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "@/lib/generated/prisma/client";
import { env } from "@/lib/config/env";

/**
 * The one Prisma client of the process (driver adapter over node-postgres). `password_hash` is
 * omitted globally so no query can hand it to a page by accident; the password check asks for it
 * explicitly (lib/auth/credentials.ts).
 */
function createClient() {
  const { DATABASE_URL, DATABASE_POOL_MAX } = env();
  const adapter = new PrismaPg({ connectionString: DATABASE_URL, max: DATABASE_POOL_MAX });
  return new PrismaClient({ adapter, omit: { user: { passwordHash: true } } });
}

export type Db = ReturnType<typeof createClient>;

const globalForDb = globalThis as unknown as { qcDb?: Db };

export function db(): Db {
  globalForDb.qcDb ??= createClient();
  return globalForDb.qcDb;
}
