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
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { bindMigrationAwareSqlAdapterFactory } from "@prisma/driver-adapter-utils";
import * as runtime from "@prisma/schema-engine-wasm/schema_engine_bg";

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const schemaPath = path.join(root, "prisma/schema.prisma");
const migDir = path.join(root, "prisma/migrations");
const filters = { externalTables: [], externalEnums: [] };

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

async function makeAdapter() {
  if (globalThis.__qcPglite) {
    // In-process PGlite handed over by scripts/demo.mjs.
    const { PrismaPGlite } = await import("pglite-prisma-adapter");
    return new PrismaPGlite(globalThis.__qcPglite);
  }
  if (process.env.PGLITE_DIR) {
    const { PGlite } = await import("@electric-sql/pglite");
    const { PrismaPGlite } = await import("pglite-prisma-adapter");
    return new PrismaPGlite(new PGlite(process.env.PGLITE_DIR));
  }
  if (!process.env.DATABASE_URL) throw new Error("DATABASE_URL (or PGLITE_DIR) must be set");
  const { PrismaPg } = await import("@prisma/adapter-pg");
  // Discrete fields, not connectionString: the adapter derives the shadow database (used by
  // `diff`) as {...config, database}, and pg lets a connectionString override that database.
  const url = new URL(process.env.DATABASE_URL);
  const { default: pg } = await import("pg");
  const config = {
    host: url.hostname,
    port: Number(url.port || 5432),
    user: decodeURIComponent(url.username || "postgres"),
    password: url.password ? decodeURIComponent(url.password) : undefined,
    database: decodeURIComponent(url.pathname.slice(1) || "postgres"),
  };
  const pool = (database) => new pg.Pool({ ...config, database, max: 1 });
  const factory = new PrismaPg(pool(config.database));
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
      patchCharColumns(await new PrismaPg(pool(database), { disposeExternalPool: true }).connect()),
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

export async function run(cmd, name = "migration") {
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
