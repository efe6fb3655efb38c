import type { AdminQuotaItem } from "@/lib/billing/quota-view";
import { hasAnyLimit } from "@/lib/billing/vocabulary";

/**
 * The users list's quota column as data: per limited platform, `[used, limit]` of each window
 * (limit null = unlimited, 0 = disabled) — exactly what the cell draws and nothing else, so the
 * page's payload and each 10-second poll stay small. Client-safe (types and a pure function).
 */
export type QuotaCellWindow = [used: number, limit: number | null];
export type QuotaCell = { p: string; d: QuotaCellWindow; w: QuotaCellWindow; m: QuotaCellWindow };

/** A poll's answer: each user's cells (by id) and when they were read. */
export type QuotaCellsSnapshot = { at: string; cells: Record<string, QuotaCell[]> };

/** Cents of cents are enough for the cell (it shows 2 decimals). */
const r4 = (n: number) => Math.round(n * 1e4) / 1e4;

export function toQuotaCells(items: readonly AdminQuotaItem[]): QuotaCell[] {
  return items
    .filter((q) => hasAnyLimit({ daily: q.daily_limit_usd, weekly: q.weekly_limit_usd, monthly: q.monthly_limit_usd }))
    .map((q) => ({
      p: q.platform,
      d: [r4(q.daily_usage_usd), q.daily_limit_usd],
      w: [r4(q.weekly_usage_usd), q.weekly_limit_usd],
      m: [r4(q.monthly_usage_usd), q.monthly_limit_usd],
    }));
}

/**
 * The page's first snapshot as it travels inline in the HTML (components/admin-users/user-table.tsx):
 * per user `[id, ...cells]`, each cell `[platform index, used, limit]` × daily, weekly, monthly
 * flattened — no key names and no platform names repeated 50 times (every quote costs two bytes in
 * the page's inline payload). The poll keeps the readable QuotaCellsSnapshot.
 */
export type PackedQuotaCell = [platform: number, ...windows: Array<number | null>];
export type PackedQuotaCells = {
  at: string;
  platforms: string[];
  users: Array<[id: number, ...cells: PackedQuotaCell[]]>;
};

export function packQuotaCells(
  at: string,
  users: ReadonlyArray<[id: number, cells: readonly QuotaCell[]]>,
): PackedQuotaCells {
  const platforms: string[] = [];
  const index = (p: string) => {
    const i = platforms.indexOf(p);
    return i >= 0 ? i : platforms.push(p) - 1;
  };
  return {
    at,
    platforms,
    users: users.map(([id, cells]) => [id, ...cells.map((c): PackedQuotaCell => [index(c.p), ...c.d, ...c.w, ...c.m])]),
  };
}

export function unpackQuotaCells({ at, platforms, users }: PackedQuotaCells): QuotaCellsSnapshot {
  const win = (c: PackedQuotaCell, i: number): QuotaCellWindow => [c[i] as number, c[i + 1] ?? null];
  return {
    at,
    cells: Object.fromEntries(
      users.map(([id, ...cells]) => [
        String(id),
        cells.map((c) => ({ p: platforms[c[0]], d: win(c, 1), w: win(c, 3), m: win(c, 5) })),
      ]),
    ),
  };
}
