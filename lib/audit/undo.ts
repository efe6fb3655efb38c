import "server-only";

import type pg from "pg";

import { AUTH_SOURCES } from "@/lib/auth-sources";
import { isPlatform } from "@/lib/billing/platforms";
import { QUOTA_WINDOWS, type Limits, type QuotaWindow } from "@/lib/billing/vocabulary";
import { startBulkUndo } from "@/lib/bulk/engine";
import { pgPool } from "@/lib/db/client";
import { saveUserQuotas, type SaveQuotaInput } from "@/lib/quota/admin";
import { appDeps, type QuotaDeps } from "@/lib/quota/runtime";
import { readQuotaVersion } from "@/lib/quota/version";
import { sourceGrantKey, sourceQuotasKey, SYSTEM_QUOTAS_KEY } from "@/lib/settings/keys";
import type { QuotaDefaultsForm, QuotaMap } from "@/lib/settings/quota-schema";
import { readQuotaDefaults, saveQuotaDefaults } from "@/lib/settings/store";
import { setUserRole, setUserStatus } from "@/lib/users/users";

import type { AuditActor, AuditChange } from "./audit";

/**
 * Undo of an audit entry (the audit page's button): a NEW change, made through the same writer as
 * the original — the per-user save (saveUserQuotas: version check under the user's row lock, audit
 * row, cache invalidation through the outbox, docs/consistency.md) or the quota defaults save
 * (saveQuotaDefaults: whole replace under its advisory lock) — that puts every value the entry
 * changed back to its "before", and records `undo_of`. Refused with UNDO_CONFLICT, writing
 * nothing, when any of those values is no longer the entry's "after" (changed since, by the
 * console, the gateway or SQL — an undo never overwrites a later change); a change landing between
 * this check and the write is caught by the writer's own version check (also UNDO_CONFLICT).
 * Values the entry did not touch are kept as they are now. A user's status or role change is undone
 * through setUserStatus / setUserRole with the entry's "after" as the expected value, checked under
 * the same locks as any status or role change (so the last-admin and self rules still hold, and the
 * gateway's users trigger fires as for any change).
 */
export const UNDOABLE_ACTIONS = [
  "user.platform_quotas.update",
  "settings.quota_defaults.update",
  "user.status.update",
  "user.role.update",
  "bulk.apply",
] as const;

export type UndoResult =
  | { ok: true; action: (typeof UNDOABLE_ACTIONS)[number]; changed: number }
  | {
      ok: false;
      code:
        | "NOT_FOUND"
        | "UNDO_UNSUPPORTED"
        | "UNDO_NOTHING"
        | "UNDO_CONFLICT"
        | "USER_NOT_FOUND"
        | "LAST_ADMIN"
        | "CANNOT_DISABLE_SELF"
        | "FORBIDDEN";
    };

type Entry = { id: number; action: string; targetType: string; targetId: string | null; changes: AuditChange[] };

export const isUndoable = (action: string) => (UNDOABLE_ACTIONS as readonly string[]).includes(action);

async function readEntry(pool: Pick<pg.Pool, "query">, id: number): Promise<Entry | null> {
  const { rows } = await pool.query<{
    action: string;
    target_type: string;
    target_id: string | null;
    changes: unknown;
  }>("SELECT action, target_type, target_id, changes FROM console_audit_logs WHERE id = $1", [id]);
  if (!rows[0]) return null;
  const r = rows[0];
  return {
    id,
    action: r.action,
    targetType: r.target_type,
    targetId: r.target_id,
    changes: Array.isArray(r.changes) ? (r.changes as AuditChange[]) : [],
  };
}

const isLimit = (v: unknown): v is number | null => v === null || (typeof v === "number" && Number.isFinite(v));
const isWindow = (w: unknown): w is QuotaWindow => QUOTA_WINDOWS.includes(w as QuotaWindow);

/** Limits as recorded for a removed row ({ daily, weekly, monthly }), or null if not that shape. */
function limitsOf(v: unknown): Limits | null {
  if (!v || typeof v !== "object") return null;
  const o = v as Record<string, unknown>;
  return isLimit(o.daily) && isLimit(o.weekly) && isLimit(o.monthly)
    ? { daily: o.daily, weekly: o.weekly, monthly: o.monthly }
    : null;
}

/** Undo one user's platform-quota save; the target map is the current rows with the entry's cells put back. */
async function undoUserQuotas(entry: Entry, actor: AuditActor, deps: QuotaDeps): Promise<UndoResult> {
  const userId = Number(entry.targetId);
  if (!Number.isSafeInteger(userId) || userId <= 0) return { ok: false, code: "UNDO_UNSUPPORTED" };
  const rt = deps.billing;
  // Version before rows (as the modal reads them): a change between the two reads makes the save conflict.
  const version = await readQuotaVersion(rt.pool, userId);
  const rows = await rt.repo.listByUser(userId);
  /** platform → its limits now; a platform without an active row is absent */
  const target = new Map<string, Limits>(
    rows.map((r) => [r.platform, { daily: r.dailyLimit, weekly: r.weeklyLimit, monthly: r.monthlyLimit }]),
  );
  const now = new Map(target);
  const cells = entry.changes.filter((c) => c.key === "platform_quota" && c.platform);
  if (cells.length === 0) return { ok: false, code: "UNDO_NOTHING" };
  const registry = await rt.platforms(); // registry order (the live gateway's in attached mode)
  for (const c of cells) {
    const p = c.platform!;
    if (!isPlatform(p, registry)) return { ok: false, code: "UNDO_UNSUPPORTED" };
    const current = now.get(p);
    if (isWindow(c.window)) {
      // The cell must still hold what the entry wrote.
      if (!current || !isLimit(c.after) || current[c.window] !== c.after) return { ok: false, code: "UNDO_CONFLICT" };
      if (c.before === "absent") continue; // settled below: the row goes when all its cells were absent
      if (!isLimit(c.before)) return { ok: false, code: "UNDO_UNSUPPORTED" };
      target.set(p, { ...(target.get(p) ?? current), [c.window]: c.before });
    } else {
      // A row the entry removed comes back with its limits (usage restarts: the old row stays deleted).
      const before = limitsOf(c.before);
      if (c.after !== "removed" || !before) return { ok: false, code: "UNDO_UNSUPPORTED" };
      if (current) return { ok: false, code: "UNDO_CONFLICT" };
      target.set(p, before);
    }
  }
  // Rows the entry created (every window "absent" before) are removed again.
  for (const p of new Set(cells.map((c) => c.platform!))) {
    const created = cells.filter((c) => c.platform === p && isWindow(c.window));
    if (created.length > 0 && created.every((c) => c.before === "absent")) target.delete(p);
  }
  const quotas: SaveQuotaInput = registry
    .filter((p) => target.has(p))
    .map((p) => ({
      platform: p,
      limits: target.get(p)!,
    }));
  const r = await saveUserQuotas(userId, quotas, { ...actor, undoOf: entry.id }, version, deps);
  if (!r.ok) return { ok: false, code: r.code === "CONFLICT" ? "UNDO_CONFLICT" : "USER_NOT_FOUND" };
  return { ok: true, action: "user.platform_quotas.update", changed: cells.length };
}

/** Undo one quota-defaults save: the stored defaults with the entry's cells and switches put back. */
async function undoQuotaDefaults(entry: Entry, actor: AuditActor): Promise<UndoResult> {
  const current = await readQuotaDefaults();
  const form: QuotaDefaultsForm = {
    version: current.version,
    system: structuredClone(current.system),
    sources: Object.fromEntries(
      AUTH_SOURCES.map((s) => [
        s,
        { grantOnSignup: current.sources[s].grantOnSignup, overrides: structuredClone(current.sources[s].overrides) },
      ]),
    ) as QuotaDefaultsForm["sources"],
  };
  const mapOf = (key: string): QuotaMap | null => {
    if (key === SYSTEM_QUOTAS_KEY) return form.system;
    const s = AUTH_SOURCES.find((x) => sourceQuotasKey(x) === key);
    return s ? form.sources[s].overrides : null;
  };
  if (entry.changes.length === 0) return { ok: false, code: "UNDO_NOTHING" };
  for (const c of entry.changes) {
    const grant = AUTH_SOURCES.find((s) => sourceGrantKey(s) === c.key);
    if (grant) {
      if (typeof c.before !== "boolean" || typeof c.after !== "boolean") return { ok: false, code: "UNDO_UNSUPPORTED" };
      if (form.sources[grant].grantOnSignup !== c.after) return { ok: false, code: "UNDO_CONFLICT" };
      form.sources[grant].grantOnSignup = c.before;
      continue;
    }
    const map = mapOf(c.key);
    if (
      !map ||
      !c.platform ||
      !isPlatform(c.platform, current.platforms) ||
      !isWindow(c.window) ||
      !isLimit(c.before) ||
      !isLimit(c.after)
    )
      return { ok: false, code: "UNDO_UNSUPPORTED" };
    if (map[c.platform][c.window] !== c.after) return { ok: false, code: "UNDO_CONFLICT" };
    map[c.platform][c.window] = c.before;
  }
  const r = await saveQuotaDefaults(form, { ...actor, undoOf: entry.id }, { platforms: current.platforms });
  if (!r.ok) return { ok: false, code: "UNDO_CONFLICT" };
  return { ok: true, action: "settings.quota_defaults.update", changed: r.changed };
}

/** Undo a user's status or role change: back to "before" while the user still has the entry's "after". */
async function undoUserField(entry: Entry, actor: AuditActor, field: "status" | "role"): Promise<UndoResult> {
  const userId = Number(entry.targetId);
  const c = entry.changes.find((x) => x.key === field);
  if (!Number.isSafeInteger(userId) || userId <= 0 || !c) return { ok: false, code: "UNDO_UNSUPPORTED" };
  const undo = { ...actor, undoOf: entry.id };
  if (field === "status") {
    const ok = (v: unknown): v is "active" | "disabled" => v === "active" || v === "disabled";
    if (!ok(c.before) || !ok(c.after)) return { ok: false, code: "UNDO_UNSUPPORTED" };
    const r = await setUserStatus(userId, c.before, undo, { expect: c.after });
    if (!r.ok) return { ok: false, code: undoCode(r.code) };
    return { ok: true, action: "user.status.update", changed: 1 };
  }
  const ok = (v: unknown): v is "admin" | "user" => v === "admin" || v === "user";
  if (!ok(c.before) || !ok(c.after)) return { ok: false, code: "UNDO_UNSUPPORTED" };
  const r = await setUserRole(userId, c.before, undo, null, { expect: c.after });
  if (!r.ok) return { ok: false, code: undoCode(r.code) };
  return { ok: true, action: "user.role.update", changed: 1 };
}

function undoCode(code: string): Exclude<UndoResult, { ok: true }>["code"] {
  if (code === "CONFLICT") return "UNDO_CONFLICT";
  if (code === "NOT_FOUND") return "USER_NOT_FOUND";
  if (code === "LAST_ADMIN" || code === "CANNOT_DISABLE_SELF" || code === "FORBIDDEN") return code;
  return "UNDO_UNSUPPORTED";
}

/** Undo audit entry `entryId` as `actor` (an admin: the action checks the role). */
export async function undoAuditEntry(
  entryId: number,
  actor: AuditActor,
  deps: QuotaDeps = appDeps(),
  pool: Pick<pg.Pool, "query"> = pgPool(),
): Promise<UndoResult> {
  const entry = await readEntry(pool, entryId);
  if (!entry) return { ok: false, code: "NOT_FOUND" };
  if (entry.action === "user.platform_quotas.update" && entry.targetType === "user")
    return undoUserQuotas(entry, actor, deps);
  if (entry.action === "settings.quota_defaults.update") return undoQuotaDefaults(entry, actor);
  if (entry.action === "user.status.update" && entry.targetType === "user")
    return undoUserField(entry, actor, "status");
  if (entry.action === "user.role.update" && entry.targetType === "user") return undoUserField(entry, actor, "role");
  if (entry.action === "bulk.apply" && entry.targetType === "bulk") {
    // A whole bulk operation (lib/bulk/engine.ts): its undo is a job of its own, run by the bulk
    // worker; users changed since are left alone and listed on the bulk page.
    const jobId = Number(entry.targetId);
    if (!Number.isSafeInteger(jobId) || jobId <= 0) return { ok: false, code: "UNDO_UNSUPPORTED" };
    const r = await startBulkUndo(jobId, actor, deps);
    if (r.ok) return { ok: true, action: "bulk.apply", changed: 0 };
    const code = { NOT_FOUND: "NOT_FOUND", ALREADY_UNDONE: "UNDO_NOTHING", NOTHING_TO_CHANGE: "UNDO_NOTHING" } as const;
    return {
      ok: false,
      code: r.code === "BULK_RUNNING" ? "UNDO_CONFLICT" : (code[r.code as keyof typeof code] ?? "UNDO_UNSUPPORTED"),
    };
  }
  return { ok: false, code: "UNDO_UNSUPPORTED" };
}
