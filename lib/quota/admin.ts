import "server-only";

import type pg from "pg";

import { latestAudit, recordAudit, type AuditActor, type AuditChange } from "@/lib/audit/audit";
import { firstPass, resetWork, saveWork } from "@/lib/billing/admin-changes";
import { billingKeys } from "@/lib/billing/keys";
import { enqueueOutbox, pendingInvalidations, type OutboxItem } from "@/lib/billing/outbox";
import type { QuotaRow } from "@/lib/billing/quota-repo";
import { adminQuotaItem, type AdminQuotaItem } from "@/lib/billing/quota-view";
import type { Limits, QuotaWindow } from "@/lib/billing/vocabulary";
import { rollback, withTransaction, type Rollback } from "@/lib/db/transaction";
import { hasActiveSubscription } from "@/lib/gateway/context";
import { refreshQuotaKeys } from "@/lib/users/quota-keys";

import type { LimitOrigin } from "./limit-origin";
import { loadLimitOrigins } from "./limit-origin-load";
import { appDeps, type QuotaDeps } from "./runtime";
import { bumpQuotaVersion, readQuotaVersion } from "./version";

/**
 * Admin operations on one user's platform quotas (spec §7.3 with DESIGN §3's improvements): read with
 * the freshest usage, whole-replace save, window reset — each change audited and its Redis work
 * recorded in the same transaction (lib/billing/outbox.ts), then done right after the commit and
 * once more a few seconds later — dropped in direct mode, applied in place in flusher mode
 * (lib/billing/admin-changes.ts, docs/consistency.md). A save must present the `version` it was
 * made from (lib/quota/version.ts); one made from an older version is CONFLICT and changes nothing.
 * Each function takes `deps` last (lib/quota/runtime.ts): the app's billing runtime unless given.
 */

export type UserQuotasView = {
  platform_quotas: AdminQuotaItem[];
  /** the platform registry, in its order: the modal's rows (the live gateway's in attached mode) */
  platforms: readonly string[];
  /** spec §8.4: the user has an active subscription (the modal's amber warning); false without the gateway's table */
  active_subscription: boolean;
  last_change: { actor_email: string; action: string; at: string } | null;
  pending_invalidations: number;
  /** what a save made from this view must send back (lib/quota/version.ts) */
  version: string;
  /** "why this limit": where each cell's value came from (lib/quota/limit-origin.ts; our addition) */
  origins: Record<string, Record<QuotaWindow, LimitOrigin>>;
};

type Actor = AuditActor;

export async function userExists(userId: number, deps: QuotaDeps = appDeps()): Promise<boolean> {
  const { rowCount } = await deps.billing.pool.query("SELECT 1 FROM users WHERE id = $1 AND deleted_at IS NULL", [
    userId,
  ]);
  return (rowCount ?? 0) > 0;
}

/** Items for every active row (registry order), plus the last change and pending invalidations; null if no user. */
export async function getUserQuotasView(userId: number, deps: QuotaDeps = appDeps()): Promise<UserQuotasView | null> {
  const { pool, repo, clock, cache } = deps.billing;
  const now = deps.now ?? Date.now();
  if (!(await userExists(userId, deps))) return null;
  // The version is read before the rows: a change landing between the two reads leaves the view
  // with rows newer than its version, so a save made from it conflicts (never the reverse).
  const version = await readQuotaVersion(pool, userId);
  const rows = await repo.listByUser(userId);
  const entries = await cache?.readManyLenient(rows.map((r) => billingKeys.userPlatformQuota(userId, r.platform)));
  const [last] = await latestAudit("user", String(userId), 1, pool);
  const pending = cache ? await pendingInvalidations(pool, billingKeys.userPlatformQuota(userId, "")) : { count: 0 };
  const platforms = await deps.billing.platforms();
  const origins = await loadLimitOrigins(pool, userId, rows, platforms);
  return {
    platform_quotas: rows.map((row, i) => adminQuotaItem(row, now, clock, entries?.[i])),
    platforms,
    active_subscription: await hasActiveSubscription(pool, userId),
    last_change: last ? { actor_email: last.actorEmail, action: last.action, at: last.createdAt } : null,
    pending_invalidations: pending.count,
    version,
    origins,
  };
}

export type SaveQuotaInput = Array<{ platform: string; limits: Limits }>;
/**
 * `applied`: the version the change was made on and the one it produced (read in its transaction).
 * A modal holding `from` may adopt `to`; `view.version` is read after the commit and can be newer.
 */
type Refused = { ok: false; code: "USER_NOT_FOUND" | "QUOTA_NOT_FOUND" | "CONFLICT" };
export type QuotaChangeResult = { ok: true; view: UserQuotasView; applied: { from: string; to: string } } | Refused;

function limitChanges(before: QuotaRow[], after: SaveQuotaInput): AuditChange[] {
  const out: AuditChange[] = [];
  const prev = new Map(
    before.map((r) => [r.platform, { daily: r.dailyLimit, weekly: r.weeklyLimit, monthly: r.monthlyLimit }]),
  );
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
      if (!b || bv !== a[w])
        out.push({ key: "platform_quota", platform: p, window: w, before: b ? bv : "absent", after: a[w] });
    }
  }
  return out;
}

/** What a change's transaction did: its Redis work and versions, or why it changed nothing (rolled back). */
type Work<T> = ({ ok: true } & T) | Refused;

/** The change's transaction, with the user row locked; USER_NOT_FOUND (rolled back) when there is no such user. */
async function inUserTransaction<T>(
  pool: pg.Pool,
  userId: number,
  fn: (client: pg.PoolClient) => Promise<Work<T> | Rollback<Work<T>>>,
): Promise<Work<T>> {
  return withTransaction<Work<T>>(pool, async (client) => {
    const u = await client.query("SELECT 1 FROM users WHERE id = $1 AND deleted_at IS NULL FOR UPDATE", [userId]);
    if (!u.rowCount) return rollback({ ok: false, code: "USER_NOT_FOUND" });
    return fn(client);
  });
}

/**
 * Whole replace of a user's limits (UpsertForUser: usage and windows of kept rows preserved, missing
 * platforms soft-deleted), audited, then carried into Redis for every registry platform. Refused with
 * CONFLICT — nothing written, audited or queued — unless the stored version is still
 * `expectedVersion`, checked under the user's row lock that every console quota change takes.
 */
export async function saveUserQuotas(
  userId: number,
  quotas: SaveQuotaInput,
  actor: Actor,
  expectedVersion: string,
  deps: QuotaDeps = appDeps(),
): Promise<QuotaChangeResult> {
  const rt = deps.billing;
  const { repo, service } = rt;
  const useRedis = rt.cache !== null;
  const work = await inUserTransaction<{ ids: number[]; items: OutboxItem[]; version: string }>(
    rt.pool,
    userId,
    async (client) => {
      if ((await readQuotaVersion(client, userId)) !== expectedVersion)
        return rollback({ ok: false, code: "CONFLICT" });
      const before = await repo.listByUser(userId, client);
      await repo.upsertForUser(userId, quotas, client);
      await refreshQuotaKeys(client, rt.clock, [userId], deps.now ?? Date.now());
      await bumpQuotaVersion(client, userId);
      const after = await repo.listByUser(userId, client);
      await recordAudit(client, {
        actor,
        action: "user.platform_quotas.update",
        targetType: "user",
        targetId: String(userId),
        changes: limitChanges(before, quotas),
      });
      const items = useRedis
        ? saveWork(userId, before, after, service.config.flusherEnabled, await rt.platforms())
        : [];
      return {
        ok: true,
        ids: await enqueueOutbox(client, items),
        items,
        version: await readQuotaVersion(client, userId),
      };
    },
  );
  if (!work.ok) return work;
  await firstPass(rt, work.ids, work.items);
  return {
    ok: true,
    view: (await getUserQuotasView(userId, deps))!,
    applied: { from: expectedVersion, to: work.version },
  };
}

/**
 * Reset one window's usage to 0 (DESIGN §3.2: daily/weekly start at the current calendar start,
 * monthly at now, so both of the gateway's expiry rules agree), audited, carried into Redis: the key
 * dropped (direct mode) or the window reset in place at most once (flusher mode). Moves the version
 * on (an open modal's save then conflicts unless it held exactly the version reset here).
 */
export async function resetUserQuotaWindow(
  userId: number,
  platform: string,
  window: QuotaWindow,
  actor: Actor,
  deps: QuotaDeps = appDeps(),
): Promise<QuotaChangeResult> {
  const rt = deps.billing;
  const { repo, clock, service } = rt;
  const newStart = clock.currentWindowStart(window, deps.now ?? Date.now());
  const work = await inUserTransaction<{ ids: number[]; items: OutboxItem[]; applied: { from: string; to: string } }>(
    rt.pool,
    userId,
    async (client) => {
      const row = (await repo.listByUser(userId, client)).find((x) => x.platform === platform);
      if (!row) return rollback({ ok: false, code: "QUOTA_NOT_FOUND" });
      const from = await readQuotaVersion(client, userId);
      const before = { daily: row.dailyUsage, weekly: row.weeklyUsage, monthly: row.monthlyUsage }[window];
      await repo.resetWindow(userId, platform, window, newStart, client);
      await refreshQuotaKeys(client, clock, [userId], deps.now ?? Date.now());
      await bumpQuotaVersion(client, userId);
      await recordAudit(client, {
        actor,
        action: "user.platform_quotas.reset",
        targetType: "user",
        targetId: String(userId),
        changes: [{ key: "usage", platform, window, before, after: 0 }],
      });
      const items: OutboxItem[] = rt.cache
        ? resetWork(userId, platform, window, newStart, service.config.flusherEnabled)
        : [];
      return {
        ok: true,
        ids: await enqueueOutbox(client, items),
        items,
        applied: { from, to: await readQuotaVersion(client, userId) },
      };
    },
  );
  if (!work.ok) return work;
  await firstPass(rt, work.ids, work.items);
  return { ok: true, view: (await getUserQuotasView(userId, deps))!, applied: work.applied };
}
