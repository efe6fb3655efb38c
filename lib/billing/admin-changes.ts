import { randomUUID } from "node:crypto";
import type pg from "pg";

import { refreshQuotaKeys } from "@/lib/users/quota-keys";

import { billingKeys } from "./keys";
import { enqueueOutbox, markFirstPass, markFirstPassFailed, type OutboxItem, type OutboxRow } from "./outbox";
import { withTransaction } from "./pg";
import type { QuotaRow } from "./quota-repo";
import type { BillingRuntime } from "./runtime";
import type { Limits, QuotaWindow } from "./vocabulary";

/**
 * How an admin change to quota rows reaches Redis without losing usage (docs/consistency.md). The
 * console's admin actions (lib/quota/admin.ts, which adds the audit row and the user lock) and the
 * chaos suite both use these.
 *
 *   direct mode   PostgreSQL holds every cost: drop the keys (fence generation moved), and once more
 *                 a few seconds later (a gateway that loaded the old row just before the commit).
 *   flusher mode  the hash holds usage PostgreSQL has not seen: change it in place — limits
 *                 rewritten, a reset applied at most once, an entry replaced when the key now stands
 *                 for another row (its old usage kept on the old row) — never a blind DEL.
 *
 * The Redis work is written to the outbox in the change's transaction and attempted right after the
 * commit (firstPass); the repairer retries what fails and does the second pass.
 */

/**
 * The Redis work of a whole-replace save, for every registry platform (the gateway invalidates all
 * of them) — `platforms` is the registry (rt.platforms()), so a fork's ninth platform is covered.
 */
export function saveWork(
  userId: number,
  before: QuotaRow[],
  after: QuotaRow[],
  flusherMode: boolean,
  platforms: readonly string[],
): OutboxItem[] {
  return platforms.map((p): OutboxItem => {
    const cacheKey = billingKeys.userPlatformQuota(userId, p);
    if (!flusherMode) return { cacheKey, kind: "del" };
    const b = before.find((r) => r.platform === p);
    const a = after.find((r) => r.platform === p);
    if ((b && a && b.id === a.id) || (!b && !a)) return { cacheKey, kind: "admin", payload: { op: "limits" } };
    return { cacheKey, kind: "admin", payload: { op: "replace", oldRowId: b?.id ?? null } };
  });
}

/** The Redis work of a window reset to `newStart`. */
export function resetWork(
  userId: number,
  platform: string,
  window: QuotaWindow,
  newStart: number,
  flusherMode: boolean,
): OutboxItem[] {
  const cacheKey = billingKeys.userPlatformQuota(userId, platform);
  return flusherMode
    ? [{ cacheKey, kind: "admin", payload: { op: "reset", window, start: newStart, resetId: randomUUID() } }]
    : [{ cacheKey, kind: "del" }];
}

/**
 * Right after the commit: the first pass of the change's Redis work. After one failure Redis is most
 * likely down: the rest is left to the repairer at once rather than waiting out a timeout per key.
 */
export async function firstPass(
  rt: BillingRuntime,
  ids: number[],
  items: OutboxItem[],
): Promise<{ ok: number; failed: number }> {
  if (!rt.cache || ids.length === 0) return { ok: 0, failed: 0 };
  const ok: number[] = [];
  const failed: number[] = [];
  let error: unknown = null;
  for (let i = 0; i < ids.length; i++) {
    if (error !== null) {
      failed.push(ids[i]);
      continue;
    }
    const row: OutboxRow = {
      id: ids[i],
      cacheKey: items[i].cacheKey,
      kind: items[i].kind,
      payload: items[i].payload ?? null,
      firstPassDone: false,
      attempts: 0,
    };
    try {
      await rt.repairer.handleOutbox(row);
      ok.push(ids[i]);
    } catch (e) {
      error = e ?? new Error("failed");
      failed.push(ids[i]);
    }
  }
  await markFirstPass(rt.pool, ok).catch(() => {});
  if (failed.length) {
    console.error(`ALERT quota change: Redis work for ${failed.length} key(s) failed; queued for retry`, String(error));
    await markFirstPassFailed(rt.pool, failed, error).catch(() => {});
  }
  return { ok: ok.length, failed: failed.length };
}

/**
 * A whole-replace save on its own (no audit, no user lock): the repository's UpsertForUser and the
 * outbox rows in one transaction, then the first pass. For tools and the chaos suite; the console
 * goes through lib/quota/admin.ts.
 */
export async function saveUserLimits(
  rt: BillingRuntime,
  userId: number,
  records: Array<{ platform: string; limits: Limits }>,
): Promise<void> {
  const flusher = rt.service.config.flusherEnabled;
  const work = await withTransaction(rt.pool, async (client: pg.PoolClient) => {
    const before = await rt.repo.listByUser(userId, client);
    await rt.repo.upsertForUser(userId, records, client);
    await refreshQuotaKeys(client, rt.clock, [userId]);
    const after = await rt.repo.listByUser(userId, client);
    const items = rt.cache ? saveWork(userId, before, after, flusher, await rt.platforms()) : [];
    return { ids: await enqueueOutbox(client, items), items };
  });
  await firstPass(rt, work.ids, work.items);
}

/** A window reset on its own (calendar-anchored start), as saveUserLimits. */
export async function resetUserWindow(
  rt: BillingRuntime,
  userId: number,
  platform: string,
  window: QuotaWindow,
  now = Date.now(),
): Promise<void> {
  const newStart = rt.clock.currentWindowStart(window, now);
  const work = await withTransaction(rt.pool, async (client: pg.PoolClient) => {
    await rt.repo.resetWindow(userId, platform, window, newStart, client);
    await refreshQuotaKeys(client, rt.clock, [userId], now);
    const items = rt.cache ? resetWork(userId, platform, window, newStart, rt.service.config.flusherEnabled) : [];
    return { ids: await enqueueOutbox(client, items), items };
  });
  await firstPass(rt, work.ids, work.items);
}
