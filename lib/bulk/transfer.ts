import { parse } from "csv-parse/sync";
import { stringify } from "csv-stringify/sync";
import type pg from "pg";

import { isPlatform } from "@/lib/billing/platforms";
import { QUOTA_WINDOWS, type Limits } from "@/lib/billing/vocabulary";
import type { QuotaClock } from "@/lib/billing/windows";
import { emptyQuotaMap, LimitSchema, MAX_DECIMALS, type QuotaMap } from "@/lib/settings/quota-schema";
import { SqlParams, userFilterSql, type UserFilter } from "@/lib/users/list-sql";

import type { SetValuesOperation } from "./types";

/**
 * Import and export of users' limits (issue 16), CSV and JSON, keyed by user id and e-mail:
 *
 *   CSV   user_id,email,platform,daily_limit_usd,weekly_limit_usd,monthly_limit_usd — one line per
 *         user × platform row, "" = unlimited, 0 = disabled, else a plain decimal (at most 10 places)
 *   JSON  {"format":"quota-console/limits@1","users":[{"user_id":1,"email":"a@b","quotas":
 *         {"anthropic":{"daily":10,"weekly":null,"monthly":null}}}]}
 *
 * Exports are ordered (user id, platform) and carry no timestamp, so export → import → export is
 * byte for byte the same. An import names users by e-mail when the line has one (a file from
 * another console: ids differ there) and by id otherwise; with both, they must name the same user.
 * Platforms a file leaves out keep the user's current limits. Every bad line is reported with its
 * reason and nothing is applied until the operator confirms the dry run (the bulk engine's
 * preview fingerprint); the good lines then become one set_values bulk operation.
 */

export const LIMITS_FORMAT = "quota-console/limits@1";
export const CSV_HEADER = ["user_id", "email", "platform", "daily_limit_usd", "weekly_limit_usd", "monthly_limit_usd"];
/** An import holds at most this many lines (users × platforms): 100k users × 8 platforms, with room. */
export const MAX_IMPORT_LINES = 1_000_000;
/** …and at most this many bytes of text (the import action's body: next.config.ts bodySizeLimit). */
export const MAX_IMPORT_BYTES = 8 * 2 ** 20;

export type ExportRow = { userId: number; email: string; platform: string } & Limits;

/** A reason a line is refused (translated under `BulkImport.errors.<code>`). */
export type ImportErrorCode =
  | "FILE_TOO_LARGE"
  | "TOO_MANY_LINES"
  | "NOT_CSV"
  | "NOT_JSON"
  | "UNKNOWN_FORMAT"
  | "BAD_HEADER"
  | "WRONG_COLUMN_COUNT"
  | "NO_USER_KEY"
  | "BAD_USER_ID"
  | "UNKNOWN_USER"
  | "ID_EMAIL_MISMATCH"
  | "UNKNOWN_PLATFORM"
  | "DUPLICATE"
  | "NOT_A_NUMBER"
  | "NEGATIVE"
  | "TOO_LARGE"
  | "TOO_MANY_DECIMALS";

/** Where a problem is: a CSV line (1 = the header) or a JSON path; `field` names the column or key. */
export type ImportProblem = {
  line: number | null;
  path: string | null;
  code: ImportErrorCode;
  field?: string;
  value?: string;
};

/** One accepted line of a file, before its user is resolved. */
type ParsedLine = {
  line: number | null;
  path: string | null;
  userId: number | null;
  email: string | null;
  platform: string;
  limits: Limits;
};

export type ImportFormat = "csv" | "json";

// ---------------------------------------------------------------- export

/** Limits from a NUMERIC(20,10) text: "12.5000000000" → "12.5", "0.0000000000" → "0", null → "". */
function limitText(v: string | null): string {
  if (v === null) return "";
  const t = v.includes(".") ? v.replace(/0+$/, "").replace(/\.$/, "") : v;
  return t === "-0" ? "0" : t;
}

type DbRow = { id: string; email: string; platform: string; d: string | null; w: string | null; m: string | null };

/**
 * Every current quota row of the users `filter` selects (all users when null), in (user id,
 * platform) order, as the export writes them. Limits stay decimal text from the database until
 * they are written, so nothing is rounded through a double on the way out.
 */
export async function exportRows(
  db: Pick<pg.Pool, "query">,
  clock: QuotaClock,
  filter: UserFilter | null,
  now = Date.now(),
): Promise<Array<{ userId: number; email: string; platform: string; daily: string; weekly: string; monthly: string }>> {
  const sql = new SqlParams();
  const where = filter ? userFilterSql(filter, clock, now, sql) : "u.deleted_at IS NULL";
  const { rows } = await db.query<DbRow>(
    `SELECT u.id::text AS id, u.email, q.platform, q.daily_limit_usd::text AS d, q.weekly_limit_usd::text AS w,
            q.monthly_limit_usd::text AS m
     FROM users u JOIN user_platform_quotas q ON q.user_id = u.id AND q.deleted_at IS NULL
     WHERE ${where}
     ORDER BY u.id, q.platform`,
    sql.values,
  );
  return rows.map((r) => ({
    userId: Number(r.id),
    email: r.email,
    platform: r.platform,
    daily: limitText(r.d),
    weekly: limitText(r.w),
    monthly: limitText(r.m),
  }));
}

export function toCsv(rows: Awaited<ReturnType<typeof exportRows>>): string {
  return stringify(
    rows.map((r) => [String(r.userId), r.email, r.platform, r.daily, r.weekly, r.monthly]),
    { header: true, columns: CSV_HEADER, record_delimiter: "unix" },
  );
}

export function toJson(rows: Awaited<ReturnType<typeof exportRows>>): string {
  const users: Array<{ user_id: number; email: string; quotas: Record<string, Record<string, number | null>> }> = [];
  for (const r of rows) {
    let u = users[users.length - 1];
    if (!u || u.user_id !== r.userId) users.push((u = { user_id: r.userId, email: r.email, quotas: {} }));
    // JSON numbers from the decimal text: every stored limit is a double the console or the gateway wrote.
    const num = (t: string) => (t === "" ? null : Number(t));
    u.quotas[r.platform] = { daily: num(r.daily), weekly: num(r.weekly), monthly: num(r.monthly) };
  }
  return `${JSON.stringify({ format: LIMITS_FORMAT, users }, null, 2)}\n`;
}

// ---------------------------------------------------------------- import: parsing

/** A cell's text → limit, or the reason it is not one (the settings form's rules, plus exponent-free). */
function parseCell(text: string): { ok: true; value: number | null } | { ok: false; code: ImportErrorCode } {
  const t = text.trim();
  if (t === "") return { ok: true, value: null };
  if (!/^-?(\d+(\.\d*)?|\.\d+)$/.test(t)) return { ok: false, code: "NOT_A_NUMBER" };
  if (t.startsWith("-") && Number(t) !== 0) return { ok: false, code: "NEGATIVE" };
  const frac = t.includes(".") ? t.slice(t.indexOf(".") + 1).replace(/0+$/, "").length : 0;
  if (frac > MAX_DECIMALS) return { ok: false, code: "TOO_MANY_DECIMALS" };
  return parseNumber(Number(t));
}

function parseNumber(v: unknown): { ok: true; value: number | null } | { ok: false; code: ImportErrorCode } {
  const r = LimitSchema.safeParse(v);
  if (r.success) return { ok: true, value: r.data };
  const code = r.error.issues[0].message;
  return {
    ok: false,
    code: (["NEGATIVE", "TOO_LARGE", "TOO_MANY_DECIMALS"].includes(code) ? code : "NOT_A_NUMBER") as ImportErrorCode,
  };
}

function userKey(
  idText: string,
  emailText: string,
): { ok: true; userId: number | null; email: string | null } | { ok: false; code: ImportErrorCode } {
  const id = idText.trim();
  const email = emailText.trim().toLowerCase();
  if (!id && !email) return { ok: false, code: "NO_USER_KEY" };
  if (id && !/^[1-9]\d{0,15}$/.test(id)) return { ok: false, code: "BAD_USER_ID" };
  return { ok: true, userId: id ? Number(id) : null, email: email || null };
}

type Parsed = { lines: ParsedLine[]; problems: ImportProblem[]; entries: number };

function parseCsv(text: string, platforms: readonly string[]): Parsed {
  let records: Array<{ record: string[]; info: { lines: number } }>;
  try {
    records = parse(text, {
      bom: true,
      info: true,
      relax_column_count: true,
      skip_empty_lines: true,
    }) as unknown as typeof records;
  } catch {
    return { lines: [], problems: [{ line: null, path: null, code: "NOT_CSV" }], entries: 0 };
  }
  const problems: ImportProblem[] = [];
  const lines: ParsedLine[] = [];
  if (records.length === 0 || records[0].record.map((h) => h.trim().toLowerCase()).join(",") !== CSV_HEADER.join(","))
    return { lines, problems: [{ line: 1, path: null, code: "BAD_HEADER", value: CSV_HEADER.join(",") }], entries: 0 };
  if (records.length - 1 > MAX_IMPORT_LINES)
    return { lines, problems: [{ line: null, path: null, code: "TOO_MANY_LINES" }], entries: 0 };
  for (const { record, info } of records.slice(1)) {
    const line = info.lines;
    if (record.length !== CSV_HEADER.length) {
      problems.push({ line, path: null, code: "WRONG_COLUMN_COUNT", value: String(record.length) });
      continue;
    }
    const [id, email, platform, ...cells] = record;
    const key = userKey(id, email);
    if (!key.ok) {
      problems.push({
        line,
        path: null,
        code: key.code,
        field: key.code === "BAD_USER_ID" ? "user_id" : undefined,
        value: id,
      });
      continue;
    }
    const p = platform.trim();
    if (!isPlatform(p, platforms)) {
      problems.push({ line, path: null, code: "UNKNOWN_PLATFORM", field: "platform", value: p });
      continue;
    }
    const limits = { daily: null, weekly: null, monthly: null } as Limits;
    let bad = false;
    QUOTA_WINDOWS.forEach((w, i) => {
      const c = parseCell(cells[i]);
      if (c.ok) limits[w] = c.value;
      else if (!bad) {
        bad = true;
        problems.push({ line, path: null, code: c.code, field: CSV_HEADER[3 + i], value: cells[i] });
      }
    });
    if (!bad) lines.push({ line, path: null, userId: key.userId, email: key.email, platform: p, limits });
  }
  return { lines, problems, entries: records.length - 1 };
}

function parseJson(text: string, platforms: readonly string[]): Parsed {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { lines: [], problems: [{ line: null, path: null, code: "NOT_JSON" }], entries: 0 };
  }
  const top = doc as { format?: unknown; users?: unknown };
  if (typeof doc !== "object" || doc === null || top.format !== LIMITS_FORMAT || !Array.isArray(top.users))
    return {
      lines: [],
      problems: [{ line: null, path: "format", code: "UNKNOWN_FORMAT", value: LIMITS_FORMAT }],
      entries: 0,
    };
  const problems: ImportProblem[] = [];
  const lines: ParsedLine[] = [];
  let count = 0;
  top.users.forEach((entry: unknown, i: number) => {
    const at = `users[${i}]`;
    const e = (typeof entry === "object" && entry !== null ? entry : {}) as Record<string, unknown>;
    const idText = e.user_id === undefined || e.user_id === null ? "" : String(e.user_id);
    const emailText = typeof e.email === "string" ? e.email : "";
    const key = userKey(idText, emailText);
    const quotas = e.quotas;
    if (!key.ok || typeof quotas !== "object" || quotas === null || Array.isArray(quotas)) {
      count++;
      if (!key.ok) problems.push({ line: null, path: at, code: key.code, value: idText });
      else problems.push({ line: null, path: `${at}.quotas`, code: "NOT_A_NUMBER" });
      return;
    }
    for (const [platform, raw] of Object.entries(quotas as Record<string, unknown>)) {
      const path = `${at}.quotas.${platform}`;
      if (++count > MAX_IMPORT_LINES) return void problems.push({ line: null, path, code: "TOO_MANY_LINES" });
      if (!isPlatform(platform, platforms)) {
        problems.push({ line: null, path, code: "UNKNOWN_PLATFORM", value: platform });
        continue;
      }
      const l = (typeof raw === "object" && raw !== null ? raw : {}) as Record<string, unknown>;
      const limits = { daily: null, weekly: null, monthly: null } as Limits;
      let bad = false;
      for (const w of QUOTA_WINDOWS) {
        const c = parseNumber(l[w] ?? null);
        if (c.ok) limits[w] = c.value;
        else if (!bad) {
          bad = true;
          problems.push({ line: null, path: `${path}.${w}`, code: c.code, value: JSON.stringify(l[w]) });
        }
      }
      if (!bad) lines.push({ line: null, path, userId: key.userId, email: key.email, platform, limits });
    }
  });
  return { lines, problems, entries: Math.min(count, MAX_IMPORT_LINES) };
}

/** The format of a file: by its first non-blank character ('{' JSON, else CSV). */
export function sniffFormat(text: string): ImportFormat {
  return /^\uFEFF?\s*[{[]/.test(text) ? "json" : "csv";
}

// ---------------------------------------------------------------- import: users and the operation

export type ImportPlan = {
  format: ImportFormat;
  /** lines (CSV) or user × platform entries (JSON) read */
  entries: number;
  /** accepted entries */
  good: number;
  /** every refused entry with its reason, in file order */
  problems: ImportProblem[];
  /** the bulk operation of the good entries: each named user's whole map (left-out platforms kept) */
  operation: SetValuesOperation;
};

/**
 * Read a limits file (CSV or JSON) against the registry `platforms` and the users in the database,
 * and build the set_values operation of its good entries. Writes nothing.
 */
export async function planImport(
  db: Pick<pg.Pool, "query">,
  text: string,
  platforms: readonly string[],
  format: ImportFormat = sniffFormat(text),
): Promise<ImportPlan> {
  const empty = (problems: ImportProblem[]): ImportPlan => ({
    format,
    entries: 0,
    good: 0,
    problems,
    operation: { kind: "set_values", rows: [] },
  });
  if (Buffer.byteLength(text, "utf8") > MAX_IMPORT_BYTES)
    return empty([{ line: null, path: null, code: "FILE_TOO_LARGE" }]);
  const parsed = format === "json" ? parseJson(text, platforms) : parseCsv(text, platforms);
  const problems = [...parsed.problems];
  const entries = parsed.entries;

  // Resolve users: by e-mail (lower(trim), as the gateway's sign-in) where given, else by id.
  const ids = [...new Set(parsed.lines.map((l) => l.userId).filter((v): v is number => v !== null))];
  const emails = [...new Set(parsed.lines.map((l) => l.email).filter((v): v is string => v !== null))];
  const { rows: found } = await db.query<{ id: string; email: string }>(
    `SELECT id::text, lower(trim(email)) AS email FROM users
     WHERE deleted_at IS NULL AND (id = ANY($1::bigint[]) OR lower(trim(email)) = ANY($2::text[]))`,
    [ids, emails],
  );
  const byId = new Map(found.map((u) => [Number(u.id), u.email]));
  const byEmail = new Map<string, number[]>();
  for (const u of found) byEmail.set(u.email, [...(byEmail.get(u.email) ?? []), Number(u.id)]);

  const accepted: Array<ParsedLine & { user: number }> = [];
  const seen = new Set<string>();
  for (const l of parsed.lines) {
    const where = { line: l.line, path: l.path };
    let user: number | undefined;
    if (l.email !== null) {
      const matches = byEmail.get(l.email) ?? [];
      if (matches.length !== 1) {
        problems.push({ ...where, code: "UNKNOWN_USER", field: "email", value: l.email });
        continue;
      }
      user = matches[0];
      if (l.userId !== null && l.userId !== user) {
        problems.push({ ...where, code: "ID_EMAIL_MISMATCH", field: "user_id", value: String(l.userId) });
        continue;
      }
    } else {
      if (!byId.has(l.userId!)) {
        problems.push({ ...where, code: "UNKNOWN_USER", field: "user_id", value: String(l.userId) });
        continue;
      }
      user = l.userId!;
    }
    const k = `${user}:${l.platform}`;
    if (seen.has(k)) {
      problems.push({ ...where, code: "DUPLICATE", field: "platform", value: l.platform });
      continue;
    }
    seen.add(k);
    accepted.push({ ...l, user });
  }
  // File order: CSV by line; JSON entries were resolved in file order already (a stable sort keeps it).
  problems.sort((a, b) => (a.line ?? 0) - (b.line ?? 0));

  // Each named user's whole map: the current limits, with the file's platforms over them.
  const users = [...new Set(accepted.map((a) => a.user))].sort((a, b) => a - b);
  const { rows: current } = await db.query<{
    user_id: string;
    platform: string;
    d: string | null;
    w: string | null;
    m: string | null;
  }>(
    `SELECT user_id::text, platform, daily_limit_usd::text AS d, weekly_limit_usd::text AS w, monthly_limit_usd::text AS m
     FROM user_platform_quotas WHERE deleted_at IS NULL AND user_id = ANY($1::bigint[])`,
    [users],
  );
  const maps = new Map<number, QuotaMap>(users.map((u) => [u, emptyQuotaMap(platforms)]));
  const num = (v: string | null) => (v === null ? null : Number(v));
  for (const r of current) {
    const m = maps.get(Number(r.user_id));
    if (m && isPlatform(r.platform, platforms))
      m[r.platform] = { daily: num(r.d), weekly: num(r.w), monthly: num(r.m) };
  }
  for (const a of accepted) maps.get(a.user)![a.platform] = a.limits;
  return {
    format,
    entries,
    good: accepted.length,
    problems,
    operation: { kind: "set_values", rows: users.map((userId) => ({ userId, quotas: maps.get(userId)! })) },
  };
}
