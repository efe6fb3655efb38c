/**
 * The gateway-layout fixture (tests/fixtures/gateway-schema.sql, written from schema.md) and
 * throwaway databases for attached-mode tests. Also a CLI for a test runner's "attached"
 * configuration (README "Attach to your sub2api", tests section):
 *
 *   DATABASE_URL=postgresql://…/qc_test_… npx tsx tests/support/gateway-fixture.ts
 *
 * loads the fixture into that (empty) database and gives it the console's search_path as its
 * default, as an operator's role setting would in production, so the suites' own raw-SQL
 * connections resolve console tables; then `GATEWAY_DATABASE=attached node scripts/migrate.mjs deploy`.
 */
import path from "node:path";
import pg from "pg";

import { ensureGatewayLayout } from "@/scripts/lib/gateway-layout";

/** The suites run against the gateway-layout fixture (GATEWAY_DATABASE=attached, see the CLI above). */
export const ATTACHED = process.env.GATEWAY_DATABASE === "attached";

export { GATEWAY_FIXTURE, gatewayFixtureSql } from "@/scripts/lib/gateway-layout";

/**
 * Loads the fixture into the (empty) database of `url`; `searchPath` also sets its default
 * search_path. Fails on a database that already has the gateway's tables.
 */
export async function loadGatewayFixture(url: string, opts: { searchPath?: boolean } = {}): Promise<void> {
  if (!(await ensureGatewayLayout(url, opts)))
    throw new Error(`${new URL(url).pathname.slice(1)} already has a public.users table`);
}

/** A fresh database next to the one of `baseUrl`, named `<base>_<suffix>` (so still qc_test_…). */
export async function createSiblingDatabase(baseUrl: string, suffix: string): Promise<string> {
  const base = new URL(baseUrl);
  const name = `${base.pathname.slice(1)}_${suffix}`;
  if (!/^qc_test_[a-z0-9_]+$/.test(name)) throw new Error(`refusing database name ${name}`);
  await admin(baseUrl, async (c) => {
    await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await c.query(`CREATE DATABASE "${name}"`);
  });
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function dropDatabase(baseUrl: string, url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  if (!/^qc_test_/.test(name)) throw new Error(`refusing to drop ${name}`);
  await admin(baseUrl, (c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
}

async function admin(baseUrl: string, fn: (c: pg.Client) => Promise<unknown>) {
  const url = new URL(baseUrl);
  url.pathname = "/postgres";
  const c = new pg.Client({ connectionString: url.toString() });
  await c.connect();
  try {
    await fn(c);
  } finally {
    await c.end();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve("tests/support/gateway-fixture.ts")) {
  const url = process.env.DATABASE_URL ?? "";
  if (!/^qc_test_/.test(new URL(url).pathname.slice(1))) throw new Error("DATABASE_URL must name a qc_test_… database");
  loadGatewayFixture(url, { searchPath: true }).then(
    () => console.log(`gateway fixture loaded into ${new URL(url).pathname.slice(1)}`),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
