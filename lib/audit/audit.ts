import "server-only";

import type pg from "pg";

import { pgPool } from "@/lib/db/client";

/** One changed value: settings key or user platform, window where it applies, before → after. */
export type AuditChange = {
  key: string;
  platform?: string;
  window?: string;
  before: unknown;
  after: unknown;
};

/**
 * Who makes a change; for an undo (lib/audit/undo.ts) also the entry it reverses, recorded as the
 * new entry's undo_of — the writers pass it through to recordAudit untouched.
 */
export type AuditActor = { id: number; email: string; undoOf?: number };

export type AuditEntry = {
  id: number;
  actorEmail: string;
  action: string;
  targetType: string;
  targetId: string | null;
  changes: AuditChange[];
  createdAt: string;
};

type Queryable = Pick<pg.PoolClient, "query">;

/**
 * Where an audit row is written: a pg client (or pool), or a Prisma transaction (interactive
 * `$transaction`), so every module's change and its audit row commit together.
 */
export type AuditWriter = Queryable | { $executeRawUnsafe(query: string, ...values: unknown[]): Promise<number> };

/**
 * Append an audit row — the one writer of console_audit_logs; pass the transaction's client so it
 * commits (or not) with the change. Parameters carry explicit types: Prisma's driver adapter sends
 * them typed, so the JSON must be cast to jsonb.
 */
export async function recordAudit(
  client: AuditWriter,
  entry: {
    actor: AuditActor;
    action: string;
    targetType: string;
    targetId?: string | null;
    changes: AuditChange[];
  },
) {
  const sql = `INSERT INTO console_audit_logs (actor_id, actor_email, action, target_type, target_id, changes, undo_of)
     VALUES ($1::bigint, $2, $3, $4, $5, $6::jsonb, $7::bigint)`;
  const values = [
    entry.actor.id,
    entry.actor.email,
    entry.action,
    entry.targetType,
    entry.targetId ?? null,
    JSON.stringify(entry.changes),
    entry.actor.undoOf ?? null,
  ];
  if ("query" in client) await client.query(sql, values);
  else await client.$executeRawUnsafe(sql, ...values);
}

/** A console_audit_logs row as pg returns it (bigint ids as text). */
export type AuditRow = {
  id: string;
  actor_email: string;
  action: string;
  target_type: string;
  target_id: string | null;
  changes: AuditChange[];
  created_at: Date;
};

/** The most recent audit rows for a target, newest first. */
export async function latestAudit(
  targetType: string,
  targetId: string | null,
  limit = 1,
  db: Queryable = pgPool(),
): Promise<AuditEntry[]> {
  const { rows } = await db.query<AuditRow>(
    `SELECT id, actor_email, action, target_type, target_id, changes, created_at FROM console_audit_logs
     WHERE target_type = $1 AND target_id IS NOT DISTINCT FROM $2 ORDER BY created_at DESC, id DESC LIMIT $3`,
    [targetType, targetId, limit],
  );
  return rows.map((r) => ({
    id: Number(r.id),
    actorEmail: r.actor_email,
    action: r.action,
    targetType: r.target_type,
    targetId: r.target_id,
    changes: r.changes,
    createdAt: r.created_at.toISOString(),
  }));
}
