// Child-process entry of pglite-server.ts: an embedded PostgreSQL (PGlite) served over TCP by the
// project's cycle-safe server (scripts/lib/pglite-server.mjs — pglite-socket interleaves clients'
// messages), optionally migrated first (scripts/migrate.mjs on the same instance, as
// npm run demo does). Prints one line `PGLITE_READY {"port":…}` on stdout when it serves.
// Exits on SIGTERM/SIGINT, and when its parent goes away (stdin closes).
import fs from "node:fs";
import path from "node:path";
import { PGlite } from "@electric-sql/pglite";

import { servePglite } from "../pglite-server.mjs";

const opts = JSON.parse(process.argv[2] ?? "{}");

/**
 * A fresh in-memory PGlite runs initdb in WebAssembly (~5 s). Its result is the same every time
 * for one PGlite version, so it is kept as a gzip'd data-dir dump in opts.cacheDir (~4.5 MB) and
 * later starts load that instead (~1 s). Migrations still run on every start.
 */
async function createInMemory() {
  if (!opts.cacheDir) return PGlite.create();
  let version = "unknown";
  try {
    const pkg = new URL("../../../node_modules/@electric-sql/pglite/package.json", import.meta.url);
    version = JSON.parse(fs.readFileSync(pkg, "utf8")).version;
  } catch {
    // no version: still cache, under "unknown"
  }
  const file = path.join(opts.cacheDir, `pglite-${version}-initdb.tar.gz`);
  if (fs.existsSync(file)) {
    try {
      return await PGlite.create({ loadDataDir: new Blob([fs.readFileSync(file)]) });
    } catch (e) {
      console.error(`ignoring unusable PGlite cache ${file}: ${e?.message ?? e}`);
      fs.rmSync(file, { force: true });
    }
  }
  const db = await PGlite.create();
  try {
    const dump = Buffer.from(await (await db.dumpDataDir("gzip")).arrayBuffer());
    fs.mkdirSync(opts.cacheDir, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, dump);
    fs.renameSync(tmp, file); // atomic: a concurrent start sees all or nothing
  } catch (e) {
    console.error(`could not write PGlite cache ${file}: ${e?.message ?? e}`);
  }
  return db;
}

const db = opts.dataDir ? await PGlite.create(opts.dataDir) : await createInMemory();
// Attached mode on a throwaway PGlite (tests, chaos, `npm run demo -- --attached`): the gateway's
// tables first, from the fixture scripts/lib/gateway-layout.ts loads into PostgreSQL.
if (opts.migrate && process.env.GATEWAY_DATABASE === "attached") {
  const { rows } = await db.query("SELECT to_regclass('public.users') IS NOT NULL AS present");
  if (!rows[0].present) {
    await db.exec(fs.readFileSync(new URL("../../../tests/fixtures/gateway-schema.sql", import.meta.url), "utf8"));
  }
}
if (opts.migrate) {
  const log = console.log;
  console.log = console.error; // stdout carries only the ready line
  globalThis.__qcPglite = db;
  try {
    const { run } = await import(new URL("../../migrate.mjs", import.meta.url).href);
    const code = await run("deploy");
    if (code !== 0) throw new Error(`migrations exited ${code}`);
  } finally {
    delete globalThis.__qcPglite;
    console.log = log;
  }
}
const server = await servePglite(db, {
  host: "127.0.0.1",
  port: opts.port ?? 0,
  maxConnections: opts.maxConnections ?? 32,
});
const port = server.port;

let closing = false;
async function shutdown() {
  if (closing) return;
  closing = true;
  try {
    await server.close();
    await db.close();
  } finally {
    process.exit(0);
  }
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
process.stdin.on("end", shutdown);
process.stdin.on("error", shutdown);
process.stdin.resume();
process.stdout.write(`PGLITE_READY ${JSON.stringify({ port })}\n`);
