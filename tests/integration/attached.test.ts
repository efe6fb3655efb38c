/**
 * Attached mode (GATEWAY_DATABASE=attached) against the gateway-layout fixture
 * (tests/fixtures/gateway-schema.sql, from docs/gateway/schema.md), each case on its own
 * throwaway database next to the run's:
 *  - the console's migrations reach only quota_console — an event trigger records every DDL
 *    command by schema, and none after the fixture names `public`; the gateway's bookkeeping rows
 *    stay as they were;
 *  - the compatibility check accepts the fixture (and a fork's wider CHECK) and rejects a missing
 *    column, a narrower CHECK and a different column type, each with a precise message, before
 *    anything is written.
 */
import { spawnSync } from "node:child_process";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";

import { checkGatewaySchema, formatCompatReport } from "@/lib/db/compat";

import { createSiblingDatabase, dropDatabase, loadGatewayFixture } from "../support/gateway-fixture";
import { testEnv } from "../support/test-env";

const created: string[] = [];
afterAll(async () => {
  for (const url of created) await dropDatabase(testEnv().databaseUrl, url);
});

/** Installs the DDL recorder, then loads the fixture (so the fixture's own DDL is recorded too). */
async function gatewayDb(suffix: string, mutate?: string): Promise<string> {
  const url = await createSiblingDatabase(testEnv().databaseUrl, suffix);
  created.push(url);
  await withClient(url, (c) =>
    c.query(`
      CREATE SCHEMA ddl_audit;
      CREATE TABLE ddl_audit.log (id bigserial PRIMARY KEY, phase text, command text, schema_name text, object text);
      CREATE FUNCTION ddl_audit.record() RETURNS event_trigger LANGUAGE plpgsql AS $$
      DECLARE r record;
      BEGIN
        FOR r IN SELECT * FROM pg_event_trigger_ddl_commands() LOOP
          INSERT INTO ddl_audit.log (phase, command, schema_name, object)
          VALUES (current_setting('ddl_audit.phase', true), r.command_tag, r.schema_name, r.object_identity);
        END LOOP;
      END $$;
      CREATE FUNCTION ddl_audit.record_drop() RETURNS event_trigger LANGUAGE plpgsql AS $$
      DECLARE r record;
      BEGIN
        FOR r IN SELECT * FROM pg_event_trigger_dropped_objects() LOOP
          INSERT INTO ddl_audit.log (phase, command, schema_name, object)
          VALUES (current_setting('ddl_audit.phase', true), 'DROP ' || r.object_type, r.schema_name, r.object_identity);
        END LOOP;
      END $$;
      CREATE EVENT TRIGGER ddl_audit_end ON ddl_command_end EXECUTE FUNCTION ddl_audit.record();
      CREATE EVENT TRIGGER ddl_audit_drop ON sql_drop EXECUTE FUNCTION ddl_audit.record_drop();
    `),
  );
  await loadGatewayFixture(url);
  if (mutate) await withClient(url, (c) => c.query(mutate));
  // Everything recorded from here on was done by the console.
  await withClient(url, (c) => c.query("INSERT INTO ddl_audit.log (phase, command) VALUES ('mark', 'console starts')"));
  return url;
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

function migrateAttached(url: string) {
  return spawnSync(process.execPath, ["scripts/migrate.mjs", "deploy"], {
    encoding: "utf8",
    env: { ...process.env, DATABASE_URL: url, GATEWAY_DATABASE: "attached" },
  });
}

/** DDL recorded after the mark, by schema. */
async function consoleDdl(url: string) {
  return withClient(url, async (c) => {
    const { rows } = await c.query(
      `SELECT command, schema_name, object FROM ddl_audit.log
        WHERE id > (SELECT id FROM ddl_audit.log WHERE phase = 'mark') ORDER BY id`,
    );
    return rows as { command: string; schema_name: string | null; object: string | null }[];
  });
}

const bookkeeping = (url: string) =>
  withClient(url, async (c) => ({
    schemaMigrations: (await c.query("SELECT filename, checksum, applied_at FROM schema_migrations ORDER BY 1")).rows,
    atlas: (await c.query("SELECT * FROM atlas_schema_revisions ORDER BY 1")).rows,
  }));

describe("attached mode: migrations touch only quota_console", () => {
  it("no DDL reaches public; the gateway's bookkeeping is untouched; a second deploy is a no-op", async () => {
    const url = await gatewayDb("gw_ddl");
    const before = await bookkeeping(url);
    const r = migrateAttached(url);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("gateway schema: compatible");
    expect(r.stdout).toContain("applied: 20261202050000_quota_console");

    const ddl = await consoleDdl(url);
    // Positive control: the recorder saw the console's own DDL...
    expect(ddl.some((d) => d.command === "CREATE TABLE" && d.object === "quota_console.console_sessions")).toBe(true);
    expect(ddl.some((d) => d.object === "quota_console._prisma_migrations")).toBe(true);
    // ...and every command landed in quota_console (CREATE SCHEMA names no schema).
    expect(ddl.filter((d) => d.schema_name !== "quota_console" && d.command !== "CREATE SCHEMA")).toEqual([]);
    expect(ddl.filter((d) => d.command === "CREATE SCHEMA").map((d) => d.object)).toEqual(["quota_console"]);
    expect(await bookkeeping(url)).toEqual(before);

    const again = migrateAttached(url);
    expect(again.status).toBe(0);
    expect(again.stdout).toContain("migrations: up to date");
    expect(await consoleDdl(url)).toEqual(ddl); // nothing at all: every IF NOT EXISTS was a no-op
    await withClient(url, async (c) => {
      const { rows } = await c.query(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'quota_console' ORDER BY tablename",
      );
      expect(rows.map((x) => x.tablename)).toEqual([
        "_prisma_migrations",
        "billing_commit_markers",
        "bulk_job_users",
        "bulk_jobs",
        "cache_invalidation_outbox",
        "console_audit_logs",
        "console_quota_versions",
        "console_sessions",
        "usage_rollup_daily",
        "usage_rollup_hourly",
        "usage_rollup_platform_daily",
        "usage_rollup_platform_today",
        "usage_rollup_watermarks",
        "user_list_counts",
        "user_quota_key_changes",
        "user_quota_keys",
        "user_quota_keys_state",
      ]);
      // The standalone-only normalised-email index is not created on the gateway's users.
      expect(
        (await c.query("SELECT to_regclass('public.qc_users_email_normalized_unique_active') AS r")).rows[0].r,
      ).toBe(null);
      // Nor the users list's window-start indexes on the gateway's quota table, nor its column-sort
      // indexes on users (lib/users/list-sql.ts; docs/attached-indexes.sql offers them to the operator).
      const qc = await c.query(
        "SELECT indexname FROM pg_indexes WHERE tablename IN ('user_platform_quotas', 'users') AND indexname LIKE 'qc\\_%'",
      );
      expect(qc.rows).toEqual([]);
    });
  });
});

describe("attached mode: the compatibility check", () => {
  it("accepts the fixture and reads the live platform list", async () => {
    const url = await gatewayDb("gw_ok");
    const report = await withClient(url, (c) => checkGatewaySchema((t, p) => c.query(t, p)));
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.livePlatforms).toEqual([
      "anthropic",
      "openai",
      "gemini",
      "antigravity",
      "grok",
      "kimi",
      "zhipu",
      "deepseek",
    ]);
  });

  it("accepts a fork whose CHECK allows a ninth platform, and reports it", async () => {
    const url = await gatewayDb(
      "gw_wide",
      `ALTER TABLE user_platform_quotas DROP CONSTRAINT user_platform_quotas_platform_check;
       ALTER TABLE user_platform_quotas ADD CONSTRAINT user_platform_quotas_platform_check CHECK (platform IN
         ('anthropic','openai','gemini','antigravity','grok','kimi','zhipu','deepseek','kiro'));`,
    );
    const report = await withClient(url, (c) => checkGatewaySchema((t, p) => c.query(t, p)));
    expect(report.ok).toBe(true);
    expect(report.livePlatforms?.at(-1)).toBe("kiro");
  });

  const cases: [string, string, string][] = [
    [
      "a missing column",
      "ALTER TABLE users DROP COLUMN signup_source",
      "public.users.signup_source: column is missing (expected character varying(20) NOT NULL)",
    ],
    [
      "a narrower CHECK",
      `ALTER TABLE user_platform_quotas DROP CONSTRAINT user_platform_quotas_platform_check;
       ALTER TABLE user_platform_quotas ADD CONSTRAINT user_platform_quotas_platform_check CHECK (platform IN
         ('anthropic','openai','gemini','antigravity','grok'));`,
      "public.user_platform_quotas.user_platform_quotas_platform_check: CHECK is narrower than the console's platform registry: it rejects kimi, zhipu, deepseek",
    ],
    [
      "a different column type",
      "ALTER TABLE user_platform_quotas ALTER COLUMN daily_limit_usd TYPE numeric(20,8)",
      "public.user_platform_quotas.daily_limit_usd: type is numeric(20,8), the console expects numeric(20,10)",
    ],
  ];
  for (const [what, mutate, message] of cases) {
    it(`rejects ${what} with a precise message, exits non-zero and writes nothing`, async () => {
      const url = await gatewayDb(`gw_bad_${cases.findIndex((c) => c[0] === what)}`, mutate);
      const r = migrateAttached(url);
      expect(r.status).toBe(1);
      expect(r.stderr).toContain(message);
      expect(r.stderr).toContain("nothing was written");
      expect(r.stderr).toMatch(/\[stops: /);
      expect(r.stderr).toContain("still compatible:");
      // Nothing written: no DDL after the mark, no console schema.
      expect(await consoleDdl(url)).toEqual([]);
      await withClient(url, async (c) => {
        expect((await c.query("SELECT to_regnamespace('quota_console') AS n")).rows[0].n).toBe(null);
      });
      // The report names only this problem.
      const report = await withClient(url, (c) => checkGatewaySchema((t, p) => c.query(t, p)));
      expect(report.problems).toHaveLength(1);
      expect(formatCompatReport(report)).toContain(message);
    });
  }
});

describe("attached mode: the grant script (docs/attached-grants.sql)", () => {
  const base = new URL(testEnv().databaseUrl).pathname.slice(1);
  const gwRole = `${base}_gwrole`;
  const consoleRole = `${base}_console`;
  const as = (url: string, user: string) => {
    const u = new URL(url);
    u.username = user;
    return u.toString();
  };
  const superuser = (sql: string) => withClient(testEnv().databaseUrl, (c) => c.query(sql));

  afterAll(async () => {
    for (const url of created.splice(0)) await dropDatabase(testEnv().databaseUrl, url);
    for (const r of [consoleRole, gwRole]) {
      await superuser(`DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${r}') THEN
        EXECUTE 'DROP OWNED BY "${r}"'; EXECUTE 'DROP ROLE "${r}"'; END IF; END $$`);
    }
  });

  it("a least-privilege console role migrates and works; the gateway's trigger still fills its outbox; its pg_dump reads everything", async () => {
    for (const r of [consoleRole, gwRole]) {
      await superuser(`DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${r}') THEN
        CREATE ROLE "${r}" LOGIN; END IF; END $$`);
    }
    const url = await createSiblingDatabase(testEnv().databaseUrl, "gw_grants");
    created.push(url);
    const db = new URL(url).pathname.slice(1);
    await superuser(`ALTER DATABASE "${db}" OWNER TO "${gwRole}"`);
    await loadGatewayFixture(as(url, gwRole)); // the gateway's role owns its tables, as in production
    const grants = spawnSync(
      "psql",
      [
        url,
        "-q",
        "-v",
        `console_role=${consoleRole}`,
        "-v",
        `gateway_role=${gwRole}`,
        "-f",
        "docs/attached-grants.sql",
      ],
      { encoding: "utf8" },
    );
    expect(grants.stderr).toBe("");
    expect(grants.status).toBe(0);

    const r = migrateAttached(as(url, consoleRole));
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);

    await withClient(as(url, gwRole), (c) =>
      c.query(`INSERT INTO users (email, password_hash) VALUES ('grant-a@example.com', 'x');
               INSERT INTO api_keys (user_id, key, name) SELECT id, 'sk-grant-test', 'k' FROM users WHERE email = 'grant-a@example.com';`),
    );
    await withClient(as(url, consoleRole), async (c) => {
      expect((await c.query("SHOW search_path")).rows[0].search_path).toBe("quota_console, public");
      // What the console does: quota upsert, settings upsert, a user's status, its own tables.
      await c.query(
        `INSERT INTO user_platform_quotas (user_id, platform, daily_limit_usd, created_at, updated_at)
         SELECT id, 'openai', 5, now(), now() FROM users WHERE email = 'grant-a@example.com'
         ON CONFLICT (user_id, platform) WHERE deleted_at IS NULL DO UPDATE SET daily_limit_usd = EXCLUDED.daily_limit_usd`,
      );
      await c.query(
        `INSERT INTO settings (key, value, updated_at) VALUES ('default_platform_quotas', '{}', now())
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
      );
      await c.query("UPDATE users SET status = 'disabled', updated_at = now() WHERE email = 'grant-a@example.com'");
      await c.query(
        "INSERT INTO cache_invalidation_outbox (cache_key) VALUES ('billing:user_platform_quota:1:openai')",
      );
      // What it may not do.
      await expect(c.query("DELETE FROM users")).rejects.toMatchObject({ code: "42501" });
      await expect(c.query("UPDATE users SET email = 'x'")).rejects.toMatchObject({ code: "42501" });
      await expect(c.query("CREATE TABLE public.qc_probe (id int)")).rejects.toMatchObject({ code: "42501" });
      await expect(c.query("SELECT * FROM schema_migrations")).rejects.toMatchObject({ code: "42501" });
    });
    // The gateway's trigger wrote its row for the disabled user's live key.
    await withClient(as(url, gwRole), async (c) => {
      const { rows } = await c.query(
        "SELECT cache_key FROM auth_cache_invalidation_outbox WHERE cache_key = encode(sha256('sk-grant-test'), 'hex')",
      );
      expect(rows).toHaveLength(1);
    });
    // The gateway's whole-database backup still works, console schema included.
    const dump = spawnSync("pg_dump", [as(url, gwRole), "--clean", "--if-exists", "--no-owner", "--no-acl"], {
      encoding: "utf8",
      maxBuffer: 64 * 1024 * 1024,
    });
    expect(dump.stderr).toBe("");
    expect(dump.status).toBe(0);
    expect(dump.stdout).toContain("CREATE TABLE quota_console.console_sessions");
    expect(dump.stdout).toContain("COPY quota_console.cache_invalidation_outbox");
  });
});
