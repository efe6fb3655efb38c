import { AUTH_SOURCES, type AuthSource } from "@/lib/auth-sources";
import { DEFAULT_PLATFORMS } from "@/lib/billing/platforms";
import { QUOTA_WINDOWS, type QuotaWindow } from "@/lib/billing/vocabulary";
import { sourceGrantKey, sourceQuotasKey, SYSTEM_QUOTAS_KEY } from "@/lib/settings/keys";

import type { AuditChange } from "./audit";

/**
 * An audit row's `changes` as what the audit page draws: quota changes as a platform × window
 * matrix of before → after (only the changed cells), other changes as one labelled value each.
 * Pure, so the page and its tests read the same structure. Platforms follow the console's own order
 * (DEFAULT_PLATFORMS); any other (a gateway fork's, e.g. "kiro") comes after them, by name — an
 * audit row may name a platform of an older registry, so the order is not the live one.
 */
export type Cell = { before: unknown; after: unknown };
export type MatrixRow = { platform: string; cells: Partial<Record<QuotaWindow, Cell>>; removed?: Cell };
export type MatrixScope = { of: "user" } | { of: "system" } | { of: "source"; source: AuthSource };

export type DiffSection =
  | { kind: "matrix"; scope: MatrixScope; rows: MatrixRow[] }
  | { kind: "grant"; source: AuthSource; before: unknown; after: unknown }
  | { kind: "usage"; platform: string; window: QuotaWindow; before: unknown; after: unknown }
  | { kind: "value"; field: "status" | "role" | "registration" | "sessions_ended"; before: unknown; after: unknown }
  | { kind: "cache"; platform: string | null; key: string; after: unknown }
  | { kind: "other"; key: string; before: unknown; after: unknown };

const isWindow = (w: unknown): w is QuotaWindow => QUOTA_WINDOWS.includes(w as QuotaWindow);

function scopeOf(key: string): MatrixScope | null {
  if (key === "platform_quota") return { of: "user" };
  if (key === SYSTEM_QUOTAS_KEY) return { of: "system" };
  const source = AUTH_SOURCES.find((s) => sourceQuotasKey(s) === key);
  return source ? { of: "source", source } : null;
}

const platformRank = (p: string) => {
  const i = (DEFAULT_PLATFORMS as readonly string[]).indexOf(p);
  return i < 0 ? DEFAULT_PLATFORMS.length : i;
};

export function describeChanges(action: string, changes: readonly AuditChange[]): DiffSection[] {
  const out: DiffSection[] = [];
  const matrices = new Map<string, { scope: MatrixScope; rows: Map<string, MatrixRow> }>();
  for (const c of changes) {
    const scope = scopeOf(c.key);
    if (scope && c.platform) {
      let m = matrices.get(c.key);
      if (!m) {
        m = { scope, rows: new Map() };
        matrices.set(c.key, m);
        out.push({ kind: "matrix", scope, rows: [] }); // placeholder keeps the order of first appearance
      }
      let row = m.rows.get(c.platform);
      if (!row) m.rows.set(c.platform, (row = { platform: c.platform, cells: {} }));
      if (isWindow(c.window)) row.cells[c.window] = { before: c.before, after: c.after };
      else row.removed = { before: c.before, after: c.after };
      continue;
    }
    const grant = AUTH_SOURCES.find((s) => sourceGrantKey(s) === c.key);
    if (grant) out.push({ kind: "grant", source: grant, before: c.before, after: c.after });
    else if (c.key === "usage" && c.platform && isWindow(c.window))
      out.push({ kind: "usage", platform: c.platform, window: c.window, before: c.before, after: c.after });
    else if (c.key === "status" || c.key === "role" || c.key === "sessions_ended")
      out.push({ kind: "value", field: c.key, before: c.before, after: c.after });
    else if (action === "settings.registration.update")
      out.push({ kind: "value", field: "registration", before: c.before, after: c.after });
    else if (action === "cache.repair")
      out.push({ kind: "cache", platform: c.platform ?? null, key: c.key, after: c.after });
    else out.push({ kind: "other", key: c.key, before: c.before, after: c.after });
  }
  // Fill the matrix placeholders in order, rows in registry order.
  const filled = [...matrices.values()];
  let i = 0;
  return out.map((s) =>
    s.kind === "matrix"
      ? {
          ...s,
          rows: [...filled[i++].rows.values()].sort(
            (a, b) => platformRank(a.platform) - platformRank(b.platform) || a.platform.localeCompare(b.platform),
          ),
        }
      : s,
  );
}
