import "server-only";

import type pg from "pg";

import type { AuditChange } from "@/lib/audit/audit";
import type { QuotaRow } from "@/lib/billing/quota-repo";
import type { QuotaWindow } from "@/lib/billing/vocabulary";
import { readQuotaDefaults } from "@/lib/settings/store";

import { limitOrigins, type LimitOrigin, type OriginAuditEntry } from "./limit-origin";

/** How far back the per-cell history is read: a user's own edits, newest first (the page shows the newest). */
const MAX_ENTRIES = 500;

type Row = { id: string; actor_email: string; created_at: Date; changes: AuditChange[] };
const entry = (r: Row): OriginAuditEntry => ({
  id: Number(r.id),
  actorEmail: r.actor_email,
  at: r.created_at.toISOString(),
  changes: Array.isArray(r.changes) ? r.changes : [],
});

/**
 * The reads `limitOrigins` needs for one user (the quota modal only, never the hot path): the user's
 * sign-up source, their quota edits, the settings changes since their oldest row, today's defaults.
 * Index-backed: console_audit_logs_target_idx and console_audit_logs_action_idx.
 */
export async function loadLimitOrigins(
  pool: Pick<pg.Pool, "query">,
  userId: number,
  rows: readonly QuotaRow[],
  /** the platform registry (the app's by default) */
  platforms?: readonly string[],
): Promise<Record<string, Record<QuotaWindow, LimitOrigin>>> {
  if (rows.length === 0) return {};
  const oldest = new Date(Math.min(...rows.map((r) => r.createdAt)));
  const [user, edits, settings, defaults] = await Promise.all([
    pool.query<{ signup_source: string }>("SELECT signup_source FROM users WHERE id = $1", [userId]),
    pool.query<Row>(
      `SELECT id, actor_email, created_at, changes FROM console_audit_logs
       WHERE target_type = 'user' AND target_id = $1 AND action = 'user.platform_quotas.update'
       ORDER BY created_at DESC, id DESC LIMIT $2`,
      [String(userId), MAX_ENTRIES],
    ),
    pool.query<Row>(
      `SELECT id, actor_email, created_at, changes FROM console_audit_logs
       WHERE action = 'settings.quota_defaults.update' AND created_at > $1
       ORDER BY created_at DESC, id DESC`,
      [oldest],
    ),
    readQuotaDefaults(pool, platforms),
  ]);
  return limitOrigins({
    rows: rows.map((r) => ({
      platform: r.platform,
      limits: { daily: r.dailyLimit, weekly: r.weeklyLimit, monthly: r.monthlyLimit },
      createdAt: r.createdAt,
    })),
    signupSource: user.rows[0]?.signup_source ?? "email",
    userEdits: edits.rows.map(entry),
    settingsChanges: settings.rows.map(entry),
    defaults,
  });
}
