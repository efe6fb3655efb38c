/**
 * What a bulk operation does to ONE user (pure: no I/O), from the user's active quota rows. The
 * preview and every batch call the same function, so the preview's cells are what a batch writes
 * (unless the user changed in between — then the batch skips that user as a conflict).
 *
 * Rules common to every limit operation:
 *   - rows are created only where a chosen platform gets a limit (a row whose three limits would be
 *     null is not created: "no row" and "unlimited" enforce the same), and removed only by an undo
 *     of a row the operation created;
 *   - usage and window starts of kept rows are never touched (as the per-user whole-replace save);
 *   - the audit changes are the per-user save's (lib/quota/admin.ts limitChanges), so a bulk entry
 *     reads — and undoes from the audit log — like a modal save.
 */
import { formatGoFloat } from "@/lib/billing/encoding";
import type { QuotaRow } from "@/lib/billing/quota-repo";
import { QUOTA_WINDOWS, type Limits, type QuotaWindow } from "@/lib/billing/vocabulary";
import { MAX_DECIMALS, MAX_LIMIT, type QuotaMap } from "@/lib/settings/quota-schema";

import type { BulkOperation, CellChange, LimitValue } from "./types";

/** The audit log's change shape (lib/audit/audit.ts AuditChange), repeated here to stay pure. */
export type PlanChange = { key: string; platform?: string; window?: string; before: unknown; after: unknown };

export type PlanUser = { id: number; email: string; source: string };

/** What an operation needs besides the user's rows. */
export type PlanContext = {
  /** the platform registry, in its order */
  platforms: readonly string[];
  /** apply_defaults: per sign-up source (and "system"), the limits a sign-up would get now */
  defaultsFor?: (source: string) => QuotaMap | null;
};

export type UserPlan =
  | { kind: "none" }
  | { kind: "refused"; code: string }
  | {
      kind: "limits";
      /** platform → new limits, only for platforms whose row is written (created or changed) */
      upserts: Array<{ platform: string; limits: Limits }>;
      /** platforms whose row is removed (only an undo of a row the operation created) */
      removes: string[];
      cells: CellChange[];
      changes: PlanChange[];
    }
  | {
      kind: "reset";
      resets: Array<{ platform: string; window: QuotaWindow; before: number }>;
      cells: CellChange[];
      changes: PlanChange[];
    };

const limitsOfRow = (r: QuotaRow): Limits => ({ daily: r.dailyLimit, weekly: r.weeklyLimit, monthly: r.monthlyLimit });
const usageOf = (r: QuotaRow, w: QuotaWindow) =>
  w === "daily" ? r.dailyUsage : w === "weekly" ? r.weeklyUsage : r.monthlyUsage;
const allNull = (l: Limits) => l.daily === null && l.weekly === null && l.monthly === null;

function valueOf(v: LimitValue): number | null {
  return v.mode === "unlimited" ? null : v.mode === "disabled" ? 0 : v.usd;
}

/** limit × factor, rounded half-up to 10 decimals as DECIMAL(20,10) stores it; null when it does not fit. */
export function scaleLimit(limit: number, factor: number): number | null {
  const x = limit * factor;
  if (!Number.isFinite(x) || x >= MAX_LIMIT) return null;
  const v = Number(x.toFixed(MAX_DECIMALS));
  return v >= MAX_LIMIT ? null : v;
}

/** A limit the rows can hold: finite, 0 ≤ v < 10^10, at most 10 decimals (the settings form's rule). */
export function isStorableLimit(v: number | null): boolean {
  if (v === null) return true;
  if (!Number.isFinite(v) || v < 0 || v >= MAX_LIMIT) return false;
  const s = formatGoFloat(v);
  const dot = s.indexOf(".");
  return !s.includes("e") && (dot < 0 || s.length - dot - 1 <= MAX_DECIMALS);
}

/**
 * The whole-replace save's audit changes (same shape as lib/quota/admin.ts limitChanges): every
 * window of every written platform whose value differs, "absent" before for a new row, a removed
 * row as { before: limits, after: "removed" }.
 */
function limitChanges(
  before: Map<string, Limits>,
  upserts: Array<{ platform: string; limits: Limits }>,
  removes: string[],
): PlanChange[] {
  const out: PlanChange[] = [];
  for (const { platform, limits } of upserts) {
    const b = before.get(platform);
    for (const w of QUOTA_WINDOWS) {
      const bv = b ? b[w] : null;
      if (!b || bv !== limits[w])
        out.push({ key: "platform_quota", platform, window: w, before: b ? bv : "absent", after: limits[w] });
    }
  }
  for (const p of removes) out.push({ key: "platform_quota", platform: p, before: before.get(p), after: "removed" });
  return out;
}

/**
 * Turn "platform → wanted limits" into a plan: only platforms whose limits differ from the row's
 * (or that have no row and get a limit) are written.
 */
function limitsPlan(
  user: PlanUser,
  current: Map<string, Limits>,
  wanted: Map<string, Limits>,
  registry: readonly string[],
  removes: string[] = [],
): UserPlan {
  const upserts: Array<{ platform: string; limits: Limits }> = [];
  const cells: CellChange[] = [];
  const ordered = [...wanted.keys()].sort((a, b) => registryIndex(registry, a) - registryIndex(registry, b));
  for (const p of ordered) {
    const next = wanted.get(p)!;
    const cur = current.get(p);
    if (!cur && allNull(next)) continue;
    const changed = QUOTA_WINDOWS.filter((w) => !cur || cur[w] !== next[w]);
    if (cur && changed.length === 0) continue;
    upserts.push({ platform: p, limits: next });
    for (const w of changed) {
      if (!cur && next[w] === null) continue; // a new row's unlimited windows are no visible change
      cells.push({
        userId: user.id,
        email: user.email,
        platform: p,
        window: w,
        field: "limit",
        before: cur ? cur[w] : "absent",
        after: next[w],
      });
    }
  }
  for (const p of removes) {
    const cur = current.get(p);
    if (!cur) continue;
    for (const w of QUOTA_WINDOWS)
      if (cur[w] !== null)
        cells.push({
          userId: user.id,
          email: user.email,
          platform: p,
          window: w,
          field: "limit",
          before: cur[w],
          after: null,
        });
  }
  const removed = removes.filter((p) => current.has(p));
  if (upserts.length === 0 && removed.length === 0) return { kind: "none" };
  return { kind: "limits", upserts, removes: removed, cells, changes: limitChanges(current, upserts, removed) };
}

function registryIndex(registry: readonly string[], p: string): number {
  const i = registry.indexOf(p);
  return i < 0 ? registry.length : i;
}

/** The plan of `op` for one user with these active rows. `op` must have been validated (lib/bulk/schema.ts). */
export function planUser(
  op: Exclude<BulkOperation, { kind: "set_values" }> | { kind: "set_values"; quotas: QuotaMap },
  user: PlanUser,
  rows: QuotaRow[],
  ctx: PlanContext,
): UserPlan {
  const current = new Map(rows.map((r) => [r.platform, limitsOfRow(r)]));
  const registry = ctx.platforms;
  switch (op.kind) {
    case "set_limits":
    case "scale": {
      const wanted = new Map<string, Limits>();
      for (const p of op.platforms) {
        const cur = current.get(p) ?? { daily: null, weekly: null, monthly: null };
        const next = { ...cur };
        for (const w of op.windows) {
          if (op.kind === "set_limits") next[w] = valueOf(op.value);
          else {
            const v = cur[w];
            if (v === null || v === 0) continue; // unlimited and disabled stay so
            const s = scaleLimit(v, op.factor);
            if (s === null) return { kind: "refused", code: "SCALED_TOO_LARGE" };
            next[w] = s;
          }
        }
        wanted.set(p, next);
      }
      return limitsPlan(user, current, wanted, registry);
    }
    case "clear_limits": {
      const wanted = new Map<string, Limits>();
      for (const p of op.platforms) if (current.has(p)) wanted.set(p, { daily: null, weekly: null, monthly: null });
      return limitsPlan(user, current, wanted, registry);
    }
    case "apply_defaults": {
      const defaults = ctx.defaultsFor?.(op.from === "system" ? "system" : user.source) ?? null;
      if (!defaults) return { kind: "refused", code: "DEFAULTS_UNREADABLE" };
      const wanted = new Map<string, Limits>();
      for (const p of op.platforms) {
        if (op.mode === "fill_missing" && current.has(p)) continue;
        const d = defaults[p];
        if (d) wanted.set(p, { daily: d.daily, weekly: d.weekly, monthly: d.monthly });
      }
      return limitsPlan(user, current, wanted, registry);
    }
    case "set_values": {
      const wanted = new Map<string, Limits>();
      for (const p of registry) {
        const l = op.quotas[p];
        if (!l) continue;
        for (const w of QUOTA_WINDOWS) if (!isStorableLimit(l[w])) return { kind: "refused", code: "INVALID_LIMIT" };
        wanted.set(p, { daily: l.daily, weekly: l.weekly, monthly: l.monthly });
      }
      return limitsPlan(user, current, wanted, registry);
    }
    case "reset_usage": {
      const resets: Array<{ platform: string; window: QuotaWindow; before: number }> = [];
      const ordered = [...op.platforms].sort((a, b) => registryIndex(registry, a) - registryIndex(registry, b));
      for (const p of ordered) {
        const row = rows.find((r) => r.platform === p);
        if (!row) continue;
        for (const w of QUOTA_WINDOWS)
          if (op.windows.includes(w)) resets.push({ platform: p, window: w, before: usageOf(row, w) });
      }
      if (resets.length === 0) return { kind: "none" };
      return {
        kind: "reset",
        resets,
        cells: resets.map((r) => ({
          userId: user.id,
          email: user.email,
          platform: r.platform,
          window: r.window,
          field: "usage" as const,
          before: r.before,
          after: 0,
        })),
        changes: resets.map((r) => ({
          key: "usage",
          platform: r.platform,
          window: r.window,
          before: r.before,
          after: 0,
        })),
      };
    }
  }
}

const isLimitValue = (v: unknown): v is number | null => v === null || (typeof v === "number" && Number.isFinite(v));
const isWindow = (w: unknown): w is QuotaWindow => QUOTA_WINDOWS.includes(w as QuotaWindow);

/**
 * The undo of one user's bulk entry (its audit changes): every cell the entry set must still hold
 * the entry's "after" (else CONFLICT — an undo never overwrites a later change, as lib/audit/undo.ts),
 * then each goes back to its "before"; a row the entry created goes away again.
 */
export function planUndo(changes: PlanChange[], user: PlanUser, rows: QuotaRow[], ctx: PlanContext): UserPlan {
  const current = new Map(rows.map((r) => [r.platform, limitsOfRow(r)]));
  const wanted = new Map<string, Limits>();
  const cells = changes.filter((c) => c.key === "platform_quota" && typeof c.platform === "string");
  if (cells.length === 0) return { kind: "none" };
  for (const c of cells) {
    const p = c.platform!;
    const cur = current.get(p);
    if (!isWindow(c.window)) return { kind: "refused", code: "UNDO_UNSUPPORTED" }; // bulk never removes rows
    if (!cur || !isLimitValue(c.after) || cur[c.window] !== c.after) return { kind: "refused", code: "UNDO_CONFLICT" };
    const base = wanted.get(p) ?? { ...cur };
    if (c.before === "absent") base[c.window] = null;
    else if (isLimitValue(c.before)) base[c.window] = c.before;
    else return { kind: "refused", code: "UNDO_UNSUPPORTED" };
    wanted.set(p, base);
  }
  const removes: string[] = [];
  for (const p of new Set(cells.map((c) => c.platform!))) {
    const mine = cells.filter((c) => c.platform === p);
    if (mine.some((c) => c.before === "absent")) {
      // The entry created this row; the row goes when no window of it holds a value the entry did not set.
      const cur = current.get(p)!;
      const untouched = QUOTA_WINDOWS.filter((w) => !mine.some((c) => c.window === w));
      if (untouched.every((w) => cur[w] === null)) {
        removes.push(p);
        wanted.delete(p);
      }
    }
  }
  return limitsPlan(user, current, wanted, ctx.platforms, removes);
}
