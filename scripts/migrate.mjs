// Offline Prisma migrations.
//
//   node scripts/migrate.mjs deploy          apply pending prisma/migrations to DATABASE_URL
//   node scripts/migrate.mjs create <name>   write a new migration from the schema.prisma diff
//   node scripts/migrate.mjs diff            print SQL that would turn the migrated DATABASE_URL into
//                                            schema.prisma (exit 1 on drift) — used by the drift test
//
// The Prisma CLI downloads a native schema engine for `migrate`, which is impossible here (and in
// CI). Prisma's WebAssembly schema engine runs the same migration logic through a driver adapter
// and records the standard `_prisma_migrations` table, so `prisma migrate deploy` stays valid
// wherever the native engine is available. Set PGLITE_DIR instead of DATABASE_URL to migrate an
// embedded PGlite data folder in-process.
//
// Two layouts (GATEWAY_DATABASE, lib/config/env.ts; README "Attach to your sub2api"):
//   standalone (default)  the console owns the database: Prisma migrations build the console's
//                         schema quota_console, then prisma/standalone/gateway-subset.sql builds (or
//                         upgrades) the gateway's tables it uses in `public`.
//   attached              the console runs on the gateway's own database: lib/db/compat.ts first checks
//                         the gateway's tables (read-only; a mismatch stops here with nothing written),
//                         then only quota_console is migrated. `public` — and the gateway's
//                         schema_migrations, atlas_schema_revisions and advisory lock — are never touched.
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { bindMigrationAwareSqlAdapterFactory } from "@prisma/driver-adapter-utils";
import * as runtime from "@prisma/schema-engine-wasm/schema_engine_bg";

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const schemaPath = path.join(root, "prisma/schema.prisma");
const migDir = path.join(root, "prisma/migrations");
/** The console's own PostgreSQL schema (prisma/schema.prisma); also holds `_prisma_migrations`. */
export const CONSOLE_SCHEMA = "quota_console";
/** The gateway's tables: never migrated by Prisma (created by gateway-subset.sql in standalone mode only). */
const filters = {
  externalTables: ["public.users", "public.settings", "public.user_platform_quotas"],
  externalEnums: [],
};

function loadEngineWasm() {
  // The engine reports a Rust panic through this global before aborting.
  globalThis.PRISMA_WASM_PANIC_REGISTRY = { set_message: (m) => console.error(`schema engine panic: ${m}`) };
  const wasmPath = path.join(
    path.dirname(require.resolve("@prisma/schema-engine-wasm/schema_engine_bg")),
    "schema_engine_bg.wasm",
  );
  const instance = new WebAssembly.Instance(new WebAssembly.Module(fs.readFileSync(wasmPath)), {
    "./schema_engine_bg.js": runtime,
  });
  runtime.__wbg_set_wasm(instance.exports);
  instance.exports.__wbindgen_start();
}

function listMigrations() {
  const dirs = fs.existsSync(migDir)
    ? fs
        .readdirSync(migDir, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name)
        .sort()
    : [];
  const lock = path.join(migDir, "migration_lock.toml");
  return {
    baseDir: migDir,
    shadowDbInitScript: "",
    lockfile: { path: "migration_lock.toml", content: fs.existsSync(lock) ? fs.readFileSync(lock, "utf8") : null },
    migrationDirectories: dirs.map((d) => ({
      path: d,
      migrationFile: {
        path: "migration.sql",
        content: { tag: "ok", value: fs.readFileSync(path.join(migDir, d, "migration.sql"), "utf8") },
      },
    })),
  };
}

/**
 * The schema engine's catalog queries (used by `diff`) return PostgreSQL's internal one-byte type
 * "char" (OID 18, e.g. pg_constraint.contype). adapter-pg 7.10 has no mapping for it and rejects
 * the query; the engine expects the Character column type. Patch the adapter class once.
 */
function patchCharColumns(adapter) {
  const proto = Object.getPrototypeOf(Object.getPrototypeOf(adapter)); // PgQueryable
  if (proto.__charPatched) return adapter;
  const performIO = proto.performIO;
  const queryRaw = proto.queryRaw;
  const CHAR_OID = 18,
    TEXT_OID = 25,
    CHARACTER_COLUMN = 6;
  proto.performIO = async function (query) {
    const result = await performIO.call(this, query);
    result?.fields?.forEach((f, i) => {
      if (f.dataTypeID === CHAR_OID) {
        f.dataTypeID = TEXT_OID;
        (query.charColumns ??= []).push(i);
      }
    });
    return result;
  };
  proto.queryRaw = async function (query) {
    const q = { ...query };
    const result = await queryRaw.call(this, q);
    for (const i of q.charColumns ?? []) result.columnTypes[i] = CHARACTER_COLUMN;
    return result;
  };
  proto.__charPatched = true;
  return adapter;
}

/**
 * adapter-pg 7.10 runs a migration script by splitting it at every ";" — inside a DO block, a
 * string or a comment too — whereas Prisma's native engine sends the script whole. Send it whole
 * here as well (one simple query, which PostgreSQL runs as one implicit transaction), so a
 * migration behaves the same offline and under `prisma migrate deploy`.
 */
function wholeScripts(adapter) {
  adapter.executeScript = async function (script) {
    try {
      await this.client.query(script);
    } catch (error) {
      this.onError(error);
    }
  };
  return adapter;
}

/** In-process PGlite: handed over by scripts/demo.mjs, or opened from PGLITE_DIR (once per process). */
async function pglite() {
  if (globalThis.__qcPglite) return globalThis.__qcPglite;
  if (!process.env.PGLITE_DIR) return null;
  const { PGlite } = await import("@electric-sql/pglite");
  globalThis.__qcMigratePglite ??= new PGlite(process.env.PGLITE_DIR);
  return globalThis.__qcMigratePglite;
}

function pgConfig() {
  const url = new URL(process.env.DATABASE_URL);
  return {
    host: url.hostname,
    port: Number(url.port || 5432),
    user: decodeURIComponent(url.username || "postgres"),
    password: url.password ? decodeURIComponent(url.password) : undefined,
    database: decodeURIComponent(url.pathname.slice(1) || "postgres"),
  };
}

/** A plain SQL session beside the engine's, for the steps around the Prisma migrations. */
async function sqlSession() {
  const lite = await pglite();
  if (lite) {
    return {
      query: async (sql, params) => (params ? lite.query(sql, params) : lite.exec(sql).then((r) => r.at(-1))),
      end: async () => {},
    };
  }
  if (!process.env.DATABASE_URL) throw new Error("DATABASE_URL (or PGLITE_DIR) must be set");
  const { default: pg } = await import("pg");
  const client = new pg.Client(pgConfig());
  await client.connect();
  return { query: (sql, params) => client.query(sql, params), end: () => client.end() };
}

async function makeAdapter() {
  const lite = await pglite();
  if (lite) {
    const { PrismaPGlite } = await import("pglite-prisma-adapter");
    return new PrismaPGlite(lite, { schema: CONSOLE_SCHEMA });
  }
  if (!process.env.DATABASE_URL) throw new Error("DATABASE_URL (or PGLITE_DIR) must be set");
  const { PrismaPg } = await import("@prisma/adapter-pg");
  // Discrete fields, not connectionString: the adapter derives the shadow database (used by
  // `diff`) as {...config, database}, and pg lets a connectionString override that database.
  const { default: pg } = await import("pg");
  const config = pgConfig();
  // The engine creates and reads `_prisma_migrations` unqualified (the adapter's `schema` option
  // only names the default schema of the datamodel), so its session's search_path is the console
  // schema alone: the bookkeeping table lands there, and nothing unqualified can reach `public`.
  const options = `-c search_path=${CONSOLE_SCHEMA}`;
  const pool = (database) => new pg.Pool({ ...config, database, options, max: 1 });
  const factory = new PrismaPg(pool(config.database), { schema: CONSOLE_SCHEMA });
  const connect = factory.connect.bind(factory);
  factory.connect = async () => wholeScripts(patchCharColumns(await connect()));
  // The adapter's own shadow database (for `diff`) is dropped while its pool still holds a
  // connection, which PostgreSQL refuses. This one closes the pool first, then drops.
  factory.connectToShadowDb = async () => {
    const database = `prisma_shadow_${process.pid}_${Date.now()}`;
    const admin = new pg.Client(config);
    await admin.connect();
    await admin.query(`CREATE DATABASE "${database}"`);
    const shadow = wholeScripts(
      patchCharColumns(
        await new PrismaPg(pool(database), { disposeExternalPool: true, schema: CONSOLE_SCHEMA }).connect(),
      ),
    );
    const dispose = shadow.dispose.bind(shadow);
    shadow.dispose = async () => {
      await dispose();
      await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
      await admin.end();
    };
    return shadow;
  };
  return factory;
}

/** GATEWAY_DATABASE, validated as lib/config/env.ts does. */
export function gatewayDatabaseMode() {
  const mode = process.env.GATEWAY_DATABASE || "standalone";
  if (mode !== "standalone" && mode !== "attached") {
    throw new Error(`GATEWAY_DATABASE must be "standalone" or "attached", not ${JSON.stringify(mode)}`);
  }
  return mode;
}

/**
 * Before the engine starts. Attached: the compatibility check, read-only — on a mismatch nothing
 * has been written. Standalone: a database migrated by the console's earlier history keeps its
 * `_prisma_migrations` in `public`; it moves (ALTER TABLE … SET SCHEMA, rows intact) to
 * quota_console, where the engine now keeps it, so that history stays applied.
 */
async function beforeMigrations(sql, mode) {
  if (mode === "attached") {
    const { tsImport } = await import("tsx/esm/api");
    const { checkGatewaySchema, formatCompatReport } = await tsImport("../lib/db/compat.ts", import.meta.url);
    const report = await checkGatewaySchema((text, params) => sql.query(text, params));
    if (!report.ok) {
      console.error(formatCompatReport(report));
      return false;
    }
    console.log(`gateway schema: compatible (${report.checked} checks)`);
  } else {
    const { rows } = await sql.query(
      "SELECT to_regclass('public._prisma_migrations') IS NOT NULL AS legacy, to_regclass($1) IS NOT NULL AS current",
      [`${CONSOLE_SCHEMA}._prisma_migrations`],
    );
    if (rows[0].legacy && !rows[0].current) {
      await sql.query(
        `BEGIN; CREATE SCHEMA IF NOT EXISTS ${CONSOLE_SCHEMA}; ALTER TABLE public._prisma_migrations SET SCHEMA ${CONSOLE_SCHEMA}; COMMIT;`,
      );
      console.log(`moved public._prisma_migrations to ${CONSOLE_SCHEMA}`);
    }
  }
  // The engine keeps _prisma_migrations in this schema and does not create the schema itself
  // (attached: README's grant script creates it for the console's role, so this is a no-op there).
  // The table is created here, in Prisma's own layout, because an engine that finds no migrations
  // table inspects the datamodel's schemas — `public` included — and refuses a non-empty one
  // (P3005, "baseline"); a gateway's `public` is never empty, and none of it is ours to baseline.
  // Only when missing: CREATE SCHEMA IF NOT EXISTS still demands CREATE on the database.
  const { rows: schema } = await sql.query("SELECT to_regnamespace($1) IS NOT NULL AS present", [CONSOLE_SCHEMA]);
  if (!schema[0].present) await sql.query(`CREATE SCHEMA ${CONSOLE_SCHEMA}`);
  await sql.query(`CREATE TABLE IF NOT EXISTS ${CONSOLE_SCHEMA}."_prisma_migrations" (
      "id"                  VARCHAR(36) PRIMARY KEY NOT NULL,
      "checksum"            VARCHAR(64) NOT NULL,
      "finished_at"         TIMESTAMPTZ,
      "migration_name"      VARCHAR(255) NOT NULL,
      "logs"                TEXT,
      "rolled_back_at"      TIMESTAMPTZ,
      "started_at"          TIMESTAMPTZ NOT NULL DEFAULT now(),
      "applied_steps_count" INTEGER NOT NULL DEFAULT 0
    );`);
  return true;
}

/** After the engine: the gateway's tables in standalone mode (never in attached mode). */
async function afterMigrations(sql, mode) {
  if (mode === "standalone") {
    const subset = fs.readFileSync(path.join(root, "prisma/standalone/gateway-subset.sql"), "utf8");
    await sql.query(`BEGIN;\n${subset}\nCOMMIT;`);
    // The console owns a standalone database, so every session on it — psql, scripts, tests, not
    // only the console's pools (which set it themselves) — resolves console tables first.
    await sql.query(`DO $$ BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
                     WHERE d.datname = current_database() AND s.setrole = 0
                       AND 'search_path=${CONSOLE_SCHEMA}, public' = ANY (s.setconfig)) THEN
        EXECUTE format('ALTER DATABASE %I SET search_path = ${CONSOLE_SCHEMA}, public', current_database());
      END IF;
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE WARNING 'not the database owner: set search_path = ${CONSOLE_SCHEMA}, public for other sessions yourself';
    END $$;`);
  }
  if (await pglite()) {
    // PGlite is one session shared by every client of the demo's socket server (scripts/lib/
    // pglite-server.mjs), which ignores startup options: set the console's search_path on it here.
    await sql.query(`SET search_path TO ${CONSOLE_SCHEMA}, public`);
  }
}

export async function run(cmd, name = "migration") {
  if (cmd === "deploy") {
    const mode = gatewayDatabaseMode();
    const sql = await sqlSession();
    try {
      if (!(await beforeMigrations(sql, mode))) return 1;
      await migrateConsoleSchema(sql);
      await afterMigrations(sql, mode);
      return 0;
    } finally {
      await sql.end();
    }
  }
  return runEngine(cmd, name);
}

async function migrateConsoleSchema(sql) {
  // PGlite has one session for everyone: the engine's search_path is set on it (see makeAdapter).
  if (await pglite()) await sql.query(`SET search_path TO ${CONSOLE_SCHEMA}`);
  return runEngine("deploy");
}

async function runEngine(cmd, name = "migration") {
  loadEngineWasm();
  const schema = fs.readFileSync(schemaPath, "utf8");
  const adapter = bindMigrationAwareSqlAdapterFactory(await makeAdapter());
  const engine = await runtime.SchemaEngine.new({ datamodels: [[schemaPath, schema]] }, () => {}, adapter);
  const list = listMigrations();
  const datamodel = { tag: "schemaDatamodel", files: [{ path: schemaPath, content: schema }] };
  if (cmd === "deploy") {
    const { appliedMigrationNames } = await engine.applyMigrations({ migrationsList: list, filters });
    console.log(
      appliedMigrationNames.length ? `applied: ${appliedMigrationNames.join(", ")}` : "migrations: up to date",
    );
    return 0;
  }
  if (cmd === "diff") {
    // Live database (as migrated) → schema.prisma. Empty means no drift.
    // Migrations (replayed into a throwaway shadow database on the same server) → schema.prisma.
    const d = await engine.diff({
      from: { tag: "migrations", ...list },
      to: datamodel,
      script: true,
      exitCode: true,
      filters,
    });
    const sql = (d.stdout ?? "").trim();
    const empty = !sql || /empty migration/i.test(sql);
    process.stdout.write(empty ? "no drift\n" : `${sql}\n`);
    return empty ? 0 : 1;
  }
  if (cmd === "create") {
    const last = list.migrationDirectories.at(-1);
    const snap = last && path.join(migDir, last.path, "schema.snapshot.prisma");
    const d = await engine.diff({
      from: snap
        ? { tag: "schemaDatamodel", files: [{ path: snap, content: fs.readFileSync(snap, "utf8") }] }
        : { tag: "empty" },
      to: datamodel,
      script: true,
      exitCode: null,
      filters,
    });
    if (!d.stdout?.trim() || /empty migration/i.test(d.stdout)) {
      console.log("no changes");
      return 0;
    }
    const dir = path.join(migDir, `${new Date().toISOString().replace(/\D/g, "").slice(0, 14)}_${name}`);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, "migration.sql"), d.stdout);
    fs.writeFileSync(path.join(dir, "schema.snapshot.prisma"), schema);
    const lockPath = path.join(migDir, "migration_lock.toml");
    if (!fs.existsSync(lockPath)) fs.writeFileSync(lockPath, 'provider = "postgresql"\n');
    console.log("created", path.relative(process.cwd(), dir));
    return 0;
  }
  console.error("usage: migrate.mjs deploy | create <name> | diff");
  return 2;
}

if (process.argv[1] && path.resolve(process.argv[1]) === new URL(import.meta.url).pathname) {
  const [cmd, name] = process.argv.slice(2);
  run(cmd, name).then(
    (code) => process.exit(code), // the pg pool would otherwise keep the process alive ~10 s
    (err) => {
      console.error(err?.message ?? err);
      process.exit(1);
    },
  );
}
