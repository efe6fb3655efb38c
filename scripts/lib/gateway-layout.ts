// The gateway's table layout for THROWAWAY databases only — tests, the chaos suite, benchmarks and
// `npm run demo -- --attached`: tests/fixtures/gateway-schema.sql, written from
// docs/gateway/schema.md with the real names of every table, constraint, index and trigger the
// console touches. Attached to a real gateway, its own migrations made these tables and the
// console never creates them (scripts/migrate.mjs checks and refuses instead).
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export const GATEWAY_FIXTURE = path.join(root, "tests/fixtures/gateway-schema.sql");

export function gatewayFixtureSql(): string {
  return fs.readFileSync(GATEWAY_FIXTURE, "utf8");
}

/**
 * Gives the (throwaway) database of `url` the gateway's layout unless it has one (a public.users
 * table); `searchPath` also makes the console's search_path its default, as an operator's role
 * setting would, so raw-SQL sessions resolve console tables. True when it loaded the fixture.
 */
export async function ensureGatewayLayout(url: string, opts: { searchPath?: boolean } = {}): Promise<boolean> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ present: boolean }>("SELECT to_regclass('public.users') IS NOT NULL AS present");
    if (!rows[0].present) await c.query(gatewayFixtureSql());
    if (opts.searchPath) {
      const db = new URL(url).pathname.slice(1);
      await c.query(`ALTER DATABASE "${db}" SET search_path = quota_console, public`);
    }
    return !rows[0].present;
  } finally {
    await c.end();
  }
}
