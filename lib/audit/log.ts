import "server-only";

import { DateTime } from "luxon";
import type pg from "pg";
import { z } from "zod";

import { emailMatchSql } from "@/lib/auth/email";
import { pgPool } from "@/lib/db/client";

import type { AuditChange, AuditRow } from "./audit";

/**
 * The audit trail as a list an admin can read (`/[locale]/admin/audit`): filters from the URL
 * (`?actor=&user=&kind=&from=&to=&page=`, each parsed with a fallback so a bad value is ignored, never
 * a failed page), newest first, one statement per page and every filter index-backed
 * (console_audit_logs' actor, action, target and created_at indexes; EXPLAIN in
 * tests/integration/audit-log.test.ts).
 */

/** What the kind filter offers, and the audit actions each covers. */
export const AUDIT_KINDS = {
  quota_defaults: ["settings.quota_defaults.update"],
  registration: ["settings.registration.update"],
  user_quotas: ["user.platform_quotas.update"],
  usage_reset: ["user.platform_quotas.reset"],
  user_status: ["user.status.update"],
  user_role: ["user.role.update"],
  cache_repair: ["cache.repair"],
} as const satisfies Record<string, readonly string[]>;
export type AuditKind = keyof typeof AUDIT_KINDS;
const KIND_NAMES = Object.keys(AUDIT_KINDS) as [AuditKind, ...AuditKind[]];

const DATE = /^\d{4}-\d{2}-\d{2}$/;
/** Control characters (NUL: PostgreSQL refuses it in text) and lone surrogates match no address. */
const UNSEARCHABLE = /[\p{Cc}\p{Cs}]/gu;
const text = z
  .string()
  .transform((s) => s.replace(UNSEARCHABLE, "").trim())
  .pipe(z.string().max(255))
  .catch("");
const date = z
  .string()
  .trim()
  .refine((s) => s === "" || (DATE.test(s) && DateTime.fromISO(s, { zone: "utc" }).isValid))
  .catch("");

export const AuditListParamsSchema = z.object({
  /** the acting admin's e-mail as recorded (the page offers the recorded ones) */
  actor: text,
  /** the target user: an id, or an e-mail (matched case-insensitively, active users) */
  user: text,
  kind: z.enum(["", ...KIND_NAMES]).catch(""),
  /** first and last day, inclusive, as dates in the viewer's time zone */
  from: date,
  to: date,
  page: z.coerce.number().int().min(1).max(10_000).catch(1),
});
export type AuditListParams = z.infer<typeof AuditListParamsSchema>;

export const AUDIT_PAGE_SIZE = 50;

export type AuditListEntry = {
  id: number;
  at: string;
  actorId: number | null;
  actorEmail: string;
  action: string;
  kind: AuditKind | null;
  targetType: string;
  targetId: string | null;
  /** the target user's e-mail when the target is a user that still exists */
  targetEmail: string | null;
  changes: AuditChange[];
  /** the entry this one undid, and the first entry that undid this one (lib/audit/undo.ts) */
  undoOf: number | null;
  undoneBy: number | null;
};

/** The [from, to) instants of the chosen days in `timeZone`; null where a bound is open. */
export function auditRange(params: Pick<AuditListParams, "from" | "to">, timeZone: string) {
  const day = (s: string) => DateTime.fromISO(s, { zone: timeZone }).startOf("day");
  return {
    from: params.from ? day(params.from).toJSDate() : null,
    to: params.to ? day(params.to).plus({ days: 1 }).toJSDate() : null,
  };
}

function kindOf(action: string): AuditKind | null {
  for (const k of KIND_NAMES) if ((AUDIT_KINDS[k] as readonly string[]).includes(action)) return k;
  return null;
}

/**
 * The target-user filter as target ids: a positive integer is an id; anything else an e-mail,
 * compared as the gateway compares addresses (lib/auth/email.ts) — an unknown one matches no entry,
 * never every entry. null: no filter.
 */
async function targetIds(user: string, pool: Pick<pg.Pool, "query">): Promise<string[] | null> {
  if (!user) return null;
  if (/^[1-9]\d{0,18}$/.test(user)) return [user];
  const { rows } = await pool.query<{ id: string }>(
    `SELECT id::text AS id FROM users WHERE ${emailMatchSql(1)} AND deleted_at IS NULL`,
    [user],
  );
  return rows.map((r) => r.id);
}

/**
 * The e-mails of everyone who has changed something, for the actor filter: a loose index scan over
 * console_audit_logs_actor_idx (one index probe per distinct actor, however long the trail).
 */
export async function listAuditActors(pool: Pick<pg.Pool, "query"> = pgPool()): Promise<string[]> {
  const { rows } = await pool.query<{ actor_email: string }>(
    `WITH RECURSIVE a AS (
       (SELECT actor_email FROM console_audit_logs ORDER BY actor_email LIMIT 1)
       UNION ALL
       SELECT (SELECT c.actor_email FROM console_audit_logs c WHERE c.actor_email > a.actor_email
               ORDER BY c.actor_email LIMIT 1)
       FROM a WHERE a.actor_email IS NOT NULL
     )
     SELECT actor_email FROM a WHERE actor_email IS NOT NULL LIMIT 200`,
  );
  return rows.map((r) => r.actor_email);
}

/** One page of the audit trail (one row more than a page is read to know whether another follows). */
export async function listAuditEntries(
  params: AuditListParams,
  timeZone: string,
  pool: Pick<pg.Pool, "query"> = pgPool(),
): Promise<{ entries: AuditListEntry[]; hasMore: boolean; pageSize: number }> {
  const { from, to } = auditRange(params, timeZone);
  const targets = await targetIds(params.user, pool);
  const { rows } = await pool.query<
    AuditRow & {
      actor_id: string | null;
      target_email: string | null;
      undo_of: string | null;
      undone_by: string | null;
    }
  >(
    `SELECT a.id, a.actor_id, a.actor_email, a.action, a.target_type, a.target_id, a.changes, a.created_at,
            u.email AS target_email, a.undo_of,
            (SELECT min(x.id) FROM console_audit_logs x WHERE x.undo_of = a.id) AS undone_by
     FROM console_audit_logs a
     LEFT JOIN users u ON a.target_type = 'user' AND u.deleted_at IS NULL
       AND u.id = CASE WHEN a.target_id ~ '^[0-9]{1,18}$' THEN a.target_id::bigint END
     WHERE ($1::text = '' OR a.actor_email = $1)
       AND ($2::text[] IS NULL OR a.action = ANY($2::text[]))
       AND ($3::text[] IS NULL OR (a.target_type = 'user' AND a.target_id = ANY($3::text[])))
       AND ($4::timestamptz IS NULL OR a.created_at >= $4)
       AND ($5::timestamptz IS NULL OR a.created_at < $5)
     ORDER BY a.created_at DESC, a.id DESC
     LIMIT $6 OFFSET $7`,
    [
      params.actor,
      params.kind ? [...AUDIT_KINDS[params.kind]] : null,
      targets,
      from,
      to,
      AUDIT_PAGE_SIZE + 1,
      (params.page - 1) * AUDIT_PAGE_SIZE,
    ],
  );
  const entries = rows.slice(0, AUDIT_PAGE_SIZE).map((r) => ({
    id: Number(r.id),
    at: r.created_at.toISOString(),
    actorId: r.actor_id === null ? null : Number(r.actor_id),
    actorEmail: r.actor_email,
    action: r.action,
    kind: kindOf(r.action),
    targetType: r.target_type,
    targetId: r.target_id,
    targetEmail: r.target_email,
    changes: Array.isArray(r.changes) ? r.changes : [],
    undoOf: r.undo_of === null ? null : Number(r.undo_of),
    undoneBy: r.undone_by === null ? null : Number(r.undone_by),
  }));
  return { entries, hasMore: rows.length > AUDIT_PAGE_SIZE, pageSize: AUDIT_PAGE_SIZE };
}
