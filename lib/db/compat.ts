/**
 * The attached-mode compatibility check (GATEWAY_DATABASE=attached, README "Attach to your
 * sub2api"): every table, column, type, default, constraint and index of the gateway's `public`
 * schema that the console's statements rely on, verified against the live catalog
 * (pg_catalog) before anything is written. The expectations are the gateway's layout at upstream
 * 67380eaf (docs/gateway/schema.md §1.1–1.3), restricted to what the console reads and writes;
 * the gateway's other columns, indexes and triggers are its own business and not checked.
 *
 * Read-only by construction: catalog SELECTs only. Run by scripts/migrate.mjs before it migrates
 * (a mismatch stops there with nothing written) and by the server at start-up (instrumentation.ts),
 * whose result /api/health reports. The standalone layout (prisma/standalone/gateway-subset.sql)
 * passes it too — tests/integration/compat.test.ts checks both.
 *
 * No "server-only" and relative imports only: scripts/migrate.mjs loads this file through tsx.
 */
import { DEFAULT_PLATFORMS, invalidPlatformName } from "../billing/platforms";

/** What a console feature needs; a failed check names the features it stops. */
export type Feature = "sign-in" | "users" | "quota-defaults" | "user-quotas" | "billing";

export const FEATURE_LABELS: Readonly<Record<Feature, string>> = {
  "sign-in": "sign-in and sessions (users)",
  users: "the users list and admin changes to a user",
  "quota-defaults": "default quota settings (settings)",
  "user-quotas": "per-user quota editing and window resets (user_platform_quotas)",
  billing: "usage recording and the eligibility check (user_platform_quotas)",
};

type Column = { name: string; type: string; notNull: boolean; default?: string };
type Index = { name: string; unique: boolean; columns: string[]; predicate?: string };
type TableSpec = {
  table: string;
  features: Feature[];
  columns: Column[];
  primaryKey: { name: string; columns: string[] };
  indexes: Index[];
  foreignKeys?: { name: string; columns: string[]; references: string; onDelete: "cascade" }[];
};

const ts = "timestamp with time zone";
const vc = (n: number) => `character varying(${n})`;
const usd = "numeric(20,10)";

/** §1.1–1.3, the columns the console uses (schema.md migration numbers in the comments there). */
export const GATEWAY_TABLES: readonly TableSpec[] = [
  {
    table: "users",
    features: ["sign-in", "users", "billing"],
    columns: [
      { name: "id", type: "bigint", notNull: true, default: "nextval" },
      { name: "email", type: vc(255), notNull: true },
      { name: "password_hash", type: vc(255), notNull: true },
      { name: "role", type: vc(20), notNull: true, default: "'user'" },
      { name: "balance", type: "numeric(20,8)", notNull: true, default: "0" },
      { name: "status", type: vc(20), notNull: true, default: "'active'" },
      { name: "created_at", type: ts, notNull: true, default: "now()" },
      { name: "updated_at", type: ts, notNull: true, default: "now()" },
      { name: "deleted_at", type: ts, notNull: false },
      { name: "username", type: vc(100), notNull: true, default: "''" },
      { name: "signup_source", type: vc(20), notNull: true, default: "'email'" },
      { name: "totp_enabled", type: "boolean", notNull: true, default: "false" },
    ],
    primaryKey: { name: "users_pkey", columns: ["id"] },
    indexes: [{ name: "users_email_unique_active", unique: true, columns: ["email"], predicate: "deleted_at IS NULL" }],
  },
  {
    table: "settings",
    // sign-in reads the gateway's totp_enabled and backend_mode_enabled rows
    features: ["quota-defaults", "sign-in"],
    columns: [
      { name: "id", type: "bigint", notNull: true, default: "nextval" },
      { name: "key", type: vc(100), notNull: true },
      { name: "value", type: "text", notNull: true },
      { name: "updated_at", type: ts, notNull: true, default: "now()" },
    ],
    primaryKey: { name: "settings_pkey", columns: ["id"] },
    // ON CONFLICT (key) — the gateway's own upsert target.
    indexes: [{ name: "settings_key_key", unique: true, columns: ["key"] }],
  },
  {
    table: "user_platform_quotas",
    features: ["user-quotas", "billing"],
    columns: [
      { name: "id", type: "bigint", notNull: true, default: "nextval" },
      { name: "user_id", type: "bigint", notNull: true },
      { name: "platform", type: vc(32), notNull: true },
      { name: "daily_limit_usd", type: usd, notNull: false },
      { name: "weekly_limit_usd", type: usd, notNull: false },
      { name: "monthly_limit_usd", type: usd, notNull: false },
      { name: "daily_usage_usd", type: usd, notNull: true, default: "0" },
      { name: "weekly_usage_usd", type: usd, notNull: true, default: "0" },
      { name: "monthly_usage_usd", type: usd, notNull: true, default: "0" },
      { name: "daily_window_start", type: ts, notNull: false },
      { name: "weekly_window_start", type: ts, notNull: false },
      { name: "monthly_window_start", type: ts, notNull: false },
      { name: "created_at", type: ts, notNull: true, default: "now()" },
      { name: "updated_at", type: ts, notNull: true, default: "now()" },
      { name: "deleted_at", type: ts, notNull: false },
    ],
    primaryKey: { name: "user_platform_quotas_pkey", columns: ["id"] },
    indexes: [
      // ON CONFLICT (user_id, platform) WHERE deleted_at IS NULL — the console's and the gateway's upserts.
      {
        name: "userplatformquota_user_id_platform_uq",
        unique: true,
        columns: ["user_id", "platform"],
        predicate: "deleted_at IS NULL",
      },
    ],
    foreignKeys: [
      { name: "user_platform_quotas_user_id_fkey", columns: ["user_id"], references: "users", onDelete: "cascade" },
    ],
  },
];

export const PLATFORM_CHECK = "user_platform_quotas_platform_check";

export type CompatProblem = { object: string; problem: string; features: Feature[] };
export type CompatReport = {
  ok: boolean;
  /** How many facts were compared. */
  checked: number;
  problems: CompatProblem[];
  /** Features none of whose checks failed. */
  working: Feature[];
  /**
   * The platforms the live CHECK allows, in its order: the platform registry in attached mode
   * (lib/db/platforms.ts). null when the constraint is missing, narrower than DEFAULT_PLATFORMS, or
   * names a platform the console cannot use (each of which is also a problem).
   */
  livePlatforms: string[] | null;
};

async function sequence<T>(fns: (() => Promise<T>)[]): Promise<T[]> {
  const out: T[] = [];
  for (const fn of fns) out.push(await fn());
  return out;
}

export type Query = (text: string, params?: unknown[]) => Promise<{ rows: Record<string, unknown>[] }>;

/** Catalog spellings that mean the same thing: typmod 6 is timestamptz's default precision. */
export function normalizeType(t: string): string {
  return t.replace(/^timestamp\(6\) with time zone$/, ts);
}

/** `'user'::character varying` → `'user'`; CURRENT_TIMESTAMP → now(); nextval('…'::regclass) → nextval. */
export function normalizeDefault(d: string | null): string | null {
  if (d == null) return null;
  const s = d
    .trim()
    .replace(/^\((.*)\)$/, "$1")
    .replace(/::(character varying|text|numeric|bigint|integer)$/, "");
  if (/^nextval\(/.test(s)) return "nextval";
  if (s === "CURRENT_TIMESTAMP") return "now()";
  return s;
}

/** The string literals of a CHECK (…IN (…)) / = ANY (ARRAY[…]) definition, in order. */
export function checkLiterals(def: string): string[] {
  return [...def.matchAll(/'((?:[^']|'')*)'/g)].map((m) => m[1].replace(/''/g, "'"));
}

const list = (xs: readonly string[]) => xs.join(", ");

/**
 * Compares the live `public` schema with GATEWAY_TABLES and the platform registry. Never writes.
 * `schema` is for tests; the gateway uses only `public` (schema.md §4).
 */
export async function checkGatewaySchema(query: Query, schema = "public"): Promise<CompatReport> {
  const names = GATEWAY_TABLES.map((t) => t.table);
  // One after the other: `query` may be a single client (scripts/migrate.mjs).
  const [tables, columns, constraints, indexes] = await sequence([
    () =>
      query(
        `SELECT c.relname AS table FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relname = ANY($2) AND c.relkind IN ('r', 'p')`,
        [schema, names],
      ),
    () =>
      query(
        `SELECT c.relname AS table, a.attname AS column, format_type(a.atttypid, a.atttypmod) AS type,
              a.attnotnull AS not_null, pg_get_expr(d.adbin, d.adrelid) AS default
         FROM pg_attribute a
         JOIN pg_class c ON c.oid = a.attrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE n.nspname = $1 AND c.relname = ANY($2) AND a.attnum > 0 AND NOT a.attisdropped`,
        [schema, names],
      ),
    () =>
      query(
        `SELECT c.relname AS table, con.conname AS name, con.contype::text AS type, con.convalidated AS validated,
              pg_get_constraintdef(con.oid) AS def, con.confdeltype::text AS on_delete,
              rc.relname AS references,
              ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(attnum, n)
                      JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum ORDER BY k.n) AS columns
         FROM pg_constraint con
         JOIN pg_class c ON c.oid = con.conrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_class rc ON rc.oid = con.confrelid
        WHERE n.nspname = $1 AND c.relname = ANY($2)`,
        [schema, names],
      ),
    () =>
      query(
        `SELECT t.relname AS table, i.relname AS name, ix.indisunique AS unique, ix.indisvalid AS valid,
              ix.indnkeyatts AS nkeys, pg_get_expr(ix.indpred, ix.indrelid) AS predicate,
              ARRAY(SELECT a.attname::text FROM unnest(ix.indkey) WITH ORDINALITY k(attnum, n)
                      JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = k.attnum ORDER BY k.n) AS columns
         FROM pg_index ix
         JOIN pg_class i ON i.oid = ix.indexrelid
         JOIN pg_class t ON t.oid = ix.indrelid
         JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE n.nspname = $1 AND t.relname = ANY($2)`,
        [schema, names],
      ),
  ]);

  const problems: CompatProblem[] = [];
  let checked = 0;
  const present = new Set(tables.rows.map((r) => String(r.table)));
  let livePlatforms: string[] | null = null;

  for (const spec of GATEWAY_TABLES) {
    const t = `${schema}.${spec.table}`;
    const fail = (object: string, problem: string) => problems.push({ object, problem, features: spec.features });
    checked++;
    if (!present.has(spec.table)) {
      fail(t, "table is missing");
      continue;
    }
    const cols = new Map(columns.rows.filter((r) => r.table === spec.table).map((r) => [String(r.column), r]));
    for (const c of spec.columns) {
      checked++;
      const live = cols.get(c.name);
      const o = `${t}.${c.name}`;
      if (!live) {
        fail(o, `column is missing (expected ${c.type}${c.notNull ? " NOT NULL" : ""})`);
        continue;
      }
      const type = normalizeType(String(live.type));
      if (type !== c.type) fail(o, `type is ${type}, the console expects ${c.type}`);
      if (Boolean(live.not_null) !== c.notNull) {
        fail(
          o,
          c.notNull ? "is nullable, the console expects NOT NULL" : "is NOT NULL, the console expects it nullable",
        );
      }
      if (c.default !== undefined) {
        const d = normalizeDefault((live.default as string | null) ?? null);
        if (d !== c.default) fail(o, `default is ${d ?? "none"}, the console expects ${c.default}`);
      }
    }
    const cons = constraints.rows.filter((r) => r.table === spec.table);
    checked++;
    const pk = cons.find((r) => r.type === "p");
    if (!pk) fail(t, `primary key ${spec.primaryKey.name} is missing`);
    else if (pk.name !== spec.primaryKey.name || list(pk.columns as string[]) !== list(spec.primaryKey.columns)) {
      fail(
        t,
        `primary key is ${String(pk.name)} (${list(pk.columns as string[])}), the console expects ${spec.primaryKey.name} (${list(spec.primaryKey.columns)})`,
      );
    }
    for (const fk of spec.foreignKeys ?? []) {
      checked++;
      const live = cons.find((r) => r.name === fk.name && r.type === "f");
      if (!live) fail(`${t}.${fk.name}`, `foreign key is missing (expected (${list(fk.columns)}) → ${fk.references})`);
      else if (list(live.columns as string[]) !== list(fk.columns) || live.references !== fk.references) {
        fail(
          `${t}.${fk.name}`,
          `foreign key is ${String(live.def)}, the console expects (${list(fk.columns)}) → ${fk.references}`,
        );
      }
    }
    const idx = indexes.rows.filter((r) => r.table === spec.table);
    for (const ix of spec.indexes) {
      checked++;
      const o = `${schema}.${ix.name}`;
      const live = idx.find((r) => r.name === ix.name);
      const want = `${ix.unique ? "UNIQUE " : ""}(${list(ix.columns)})${ix.predicate ? ` WHERE ${ix.predicate}` : ""}`;
      if (!live) {
        fail(o, `index is missing (expected ${want} on ${spec.table})`);
        continue;
      }
      const pred = live.predicate ? String(live.predicate).replace(/^\((.*)\)$/, "$1") : undefined;
      const cols = live.columns as string[];
      if (
        Boolean(live.unique) !== ix.unique ||
        Number(live.nkeys) !== ix.columns.length ||
        list(cols.slice(0, ix.columns.length)) !== list(ix.columns) ||
        pred !== ix.predicate
      ) {
        const got = `${live.unique ? "UNIQUE " : ""}(${list(cols)})${pred ? ` WHERE ${pred}` : ""}`;
        fail(o, `index is ${got}, the console expects ${want}`);
      } else if (!live.valid) fail(o, "index is INVALID (a failed CREATE INDEX CONCURRENTLY); rebuild it");
    }
    if (spec.table === "user_platform_quotas") {
      checked++;
      const check = cons.find((r) => r.name === PLATFORM_CHECK && r.type === "c");
      if (!check) fail(`${t}.${PLATFORM_CHECK}`, "CHECK constraint is missing (the platform list comes from it)");
      else {
        const live = checkLiterals(String(check.def));
        const missing = DEFAULT_PLATFORMS.filter((p) => !live.includes(p));
        const unusable = live.flatMap((p) => {
          const why = invalidPlatformName(p);
          return why ? [`${JSON.stringify(p)} ${why}`] : [];
        });
        const twice = live.filter((p, i) => live.indexOf(p) !== i);
        if (missing.length) {
          fail(
            `${t}.${PLATFORM_CHECK}`,
            `CHECK is narrower than the console's platform registry: it rejects ${list(missing)} (it allows ${list(live)}; the console needs ${list(DEFAULT_PLATFORMS)})`,
          );
        } else if (unusable.length) {
          fail(`${t}.${PLATFORM_CHECK}`, `CHECK allows platform names the console cannot use: ${list(unusable)}`);
        } else if (twice.length) {
          fail(`${t}.${PLATFORM_CHECK}`, `CHECK lists ${list([...new Set(twice)])} more than once`);
        } else livePlatforms = live; // the registry in attached mode (lib/db/platforms.ts)
      }
    }
  }
  const blocked = new Set(problems.flatMap((p) => p.features));
  const all = Object.keys(FEATURE_LABELS) as Feature[];
  return { ok: problems.length === 0, checked, problems, working: all.filter((f) => !blocked.has(f)), livePlatforms };
}

/** The report printed at start-up: what is missing or different, what it stops, what still works. */
export function formatCompatReport(r: CompatReport): string {
  if (r.ok) return `gateway schema: compatible (${r.checked} checks)`;
  const lines = [
    `gateway schema: NOT compatible — ${r.problems.length} problem(s) in ${r.checked} checks; nothing was written.`,
    ...r.problems.map((p) => `  ✗ ${p.object}: ${p.problem}  [stops: ${p.features.join(", ")}]`),
    r.working.length
      ? `still compatible: ${r.working.map((f) => FEATURE_LABELS[f]).join("; ")}`
      : "nothing the console needs is compatible",
    'The console refuses to start in attached mode until the gateway\'s schema matches (README "Attach to your sub2api").',
  ];
  return lines.join("\n");
}
