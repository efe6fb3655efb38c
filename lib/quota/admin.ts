import "server-only";
import { recordAudit, latestAudit, type AuditChange } from "@/lib/audit/audit";
import type { QuotaLimits, QuotaRow } from "@/lib/billing/quota-repo";
import { adminQuotaItem, type AdminQuotaItem } from "@/lib/billing/quota-view";
import { PLATFORMS } from "@/lib/billing/platforms";
import type { Window } from "@/lib/billing/windows";
import { pgPool } from "@/lib/db/client";
import { redis } from "@/lib/redis/client";
import { billingKeys } from "@/lib/redis/keys";
import { pipelineEntries } from "@/lib/users/list";
import { deleteNow, enqueueInvalidations, pendingInvalidations } from "./outbox";
import { appBilling } from "./runtime";

/**
 * Admin operations on one user's platform quotas (spec §7.3 with DESIGN §3's improvements):
 * read with the freshest usage, whole-replace save, window reset — each change audited and its
 * cache invalidation recorded in the same transaction (see outbox.ts).
 */
export type UserQuotasView = {
  platform_quotas: AdminQuotaItem[];
  last_change: { actor_email: string; action: string; at: string } | null;
  pending_invalidations: number;
};

type Actor = { id: number; email: string };

export async function userExists(userId: number): Promise<boolean> {
  const { rowCount } = await pgPool().query("SELECT 1 FROM users WHERE id = $1 AND deleted_at IS NULL", [userId]);
  return (rowCount ?? 0) > 0;
}

/** Items for every active row (registry order), plus the last change and pending invalidations; null if no user. */
export async function getUserQuotasView(userId: number, now = Date.now()): Promise<UserQuotasView | null> {
  if (!(await userExists(userId))) return null;
  const { repo, clock } = appBilling();
  const rows = await repo.listByUser(userId);
  const entries = await pipelineEntries(redis(), rows.map((r) => billingKeys.userPlatformQuota(userId, r.platform)));
  const [last] = await latestAudit("user", String(userId));
  const pending = redis() ? await pendingInvalidations(pgPool(), billingKeys.userPlatformQuota(userId, "")) : { count: 0 };
  return {
    platform_quotas: rows.map((row, i) => adminQuotaItem(row, now, clock, entries[i])),
    last_change: last ? { actor_email: last.actorEmail, action: last.action, at: last.createdAt } : null,
    pending_invalidations: pending.count,
  };
}

export type SaveQuotaInput = Array<{ platform: string; limits: QuotaLimits }>;
export type QuotaChangeResult = { ok: true; view: UserQuotasView } | { ok: false; code: "USER_NOT_FOUND" | "QUOTA_NOT_FOUND" };

function limitChanges(before: QuotaRow[], after: SaveQuotaInput): AuditChange[] {
  const out: AuditChange[] = [];
  const prev = new Map(before.map((r) => [r.platform, { daily: r.dailyLimit, weekly: r.weeklyLimit, monthly: r.monthlyLimit }]));
  const next = new Map(after.map((r) => [r.platform, r.limits]));
  for (const p of [...new Set([...prev.keys(), ...next.keys()])]) {
    const b = prev.get(p);
    const a = next.get(p);
    if (!a) {
      out.push({ key: "platform_quota", platform: p, before: b, after: "removed" });
      continue;
    }
    for (const w of ["daily", "weekly", "monthly"] as const) {
      const bv = b ? b[w] : null;
      if (!b || bv !== a[w]) out.push({ key: "platform_quota", platform: p, window: w, before: b ? bv : "absent", after: a[w] });
    }
  }
  return out;
}

async function inUserTransaction<T>(userId: number, fn: (client: import("pg").PoolClient) => Promise<T | null>): Promise<T | null> {
  const client = await pgPool().connect();
  try {
    await client.query("BEGIN");
    const u = await client.query("SELECT 1 FROM users WHERE id = $1 AND deleted_at IS NULL FOR UPDATE", [userId]);
    if (!u.rowCount) {
      await client.query("ROLLBACK");
      return null;
    }
    const out = await fn(client);
    await client.query(out === null ? "ROLLBACK" : "COMMIT");
    return out;
  } catch (e) {
    await client.query("ROLLBACK").catch(() => {});
    throw e;
  } finally {
    client.release();
  }
}

/**
 * Whole replace of a user's limits (UpsertForUser: usage and windows of kept rows preserved,
 * missing platforms soft-deleted), audited, then every registry platform's cache key deleted.
 */
export async function saveUserQuotas(userId: number, quotas: SaveQuotaInput, actor: Actor): Promise<QuotaChangeResult> {
  const { repo } = appBilling();
  const keys = PLATFORMS.map((p) => billingKeys.userPlatformQuota(userId, p));
  const r = redis();
  const done = await inUserTransaction(userId, async (client) => {
    const before = await repo.listByUser(userId, client);
    await repo.upsertForUser(userId, quotas, client);
    await recordAudit(client, { actor, action: "user.platform_quotas.update", targetType: "user", targetId: String(userId), changes: limitChanges(before, quotas) });
    return r ? enqueueInvalidations(client, keys) : [];
  });
  if (done === null) return { ok: false, code: "USER_NOT_FOUND" };
  await deleteNow(r, pgPool(), done, keys);
  return { ok: true, view: (await getUserQuotasView(userId))! };
}

/**
 * Reset one window's usage to 0 (DESIGN §3.2: daily/weekly start at the current calendar start,
 * monthly at now, so both of the gateway's expiry rules agree), audited, that key invalidated.
 */
export async function resetUserQuotaWindow(userId: number, platform: string, window: Window, actor: Actor, now = Date.now()): Promise<QuotaChangeResult> {
  const { repo, clock } = appBilling();
  const key = billingKeys.userPlatformQuota(userId, platform);
  const r = redis();
  let missingRow = false;
  const done = await inUserTransaction(userId, async (client) => {
    const row = (await repo.listByUser(userId, client)).find((x) => x.platform === platform);
    if (!row) {
      missingRow = true;
      return null;
    }
    const before = { daily: row.dailyUsage, weekly: row.weeklyUsage, monthly: row.monthlyUsage }[window];
    await repo.resetWindow(userId, platform, window, clock.currentWindowStart(window, now), client);
    await recordAudit(client, {
      actor,
      action: "user.platform_quotas.reset",
      targetType: "user",
      targetId: String(userId),
      changes: [{ key: "usage", platform, window, before, after: 0 }],
    });
    return r ? enqueueInvalidations(client, [key]) : [];
  });
  if (done === null) return { ok: false, code: missingRow ? "QUOTA_NOT_FOUND" : "USER_NOT_FOUND" };
  await deleteNow(r, pgPool(), done, [key]);
  return { ok: true, view: (await getUserQuotasView(userId))! };
}
