import "server-only";

import { recordAudit, type AuditChange } from "@/lib/audit/audit";
import { billingKeys } from "@/lib/billing/keys";
import { ledgerStatus, type LedgerStatus } from "@/lib/billing/ledger-status";
import { reconcile, repairKey, type DriftItem, type ReconcileResult } from "@/lib/billing/reconcile";
import { pgPool } from "@/lib/db/client";
import { withTransaction } from "@/lib/db/transaction";
import { getHealth, type ServiceHealth } from "@/lib/health";
import { redis } from "@/lib/redis/client";

import { appBilling } from "./runtime";

/**
 * Admin → Cache health: the ledger's backlog as the panel shows it, and the drift check and repairs
 * behind its buttons (lib/billing/reconcile.ts on the app's billing runtime). Every repair is audited
 * (action `cache.repair`, target the quota hash key) after its Redis work, so the trail says what was
 * actually done.
 */
export const DRIFT_MAX_KEYS = 50_000;

export type CacheMode = ReconcileResult["mode"];

export type CacheStatus = {
  mode: CacheMode;
  database: ServiceHealth;
  redis: ServiceHealth;
  ledger: LedgerStatus;
  /** server time of this reading (the client computes ages against it, not its own clock) */
  time: string;
};

export type DriftRow = DriftItem & { email: string | null };
export type DriftReport = Omit<ReconcileResult, "items"> & { items: DriftRow[] };

export type RepairOutcome = "dropped" | "flush-queued";
export type CacheHealthFailure = "CACHE_DISABLED" | "CACHE_UNAVAILABLE" | "QUOTA_NOT_FOUND";
type Actor = { id: number; email: string };
type Result<T> = { ok: true; data: T } | { ok: false; code: CacheHealthFailure };

const mode = (): CacheMode => (appBilling().service.config.flusherEnabled ? "flusher" : "direct");

/** The status panel's reading: reachability (a probe at most 2 s old) and a fresh ledger status. */
export async function getCacheStatus(): Promise<CacheStatus> {
  const health = await getHealth({ maxAgeMs: 2000 });
  const ledger = await ledgerStatus({
    pool: health.database.status === "up" ? pgPool() : null,
    redis: health.redis.status === "up" ? redis() : null,
  });
  return { mode: mode(), database: health.database, redis: health.redis, ledger, time: new Date().toISOString() };
}

/** Redis is configured and answers (the drift check and repairs need it; they fail cleanly otherwise). */
async function cacheReachable(): Promise<CacheHealthFailure | null> {
  const r = appBilling().redis;
  if (!r) return "CACHE_DISABLED";
  try {
    await r.ping();
    return null;
  } catch {
    return "CACHE_UNAVAILABLE";
  }
}

async function withEmails(result: ReconcileResult): Promise<DriftReport> {
  const ids = [...new Set(result.items.map((i) => i.userId))];
  const emails = new Map<number, string>();
  if (ids.length) {
    const { rows } = await pgPool().query<{ id: string; email: string }>(
      "SELECT id, email FROM users WHERE id = ANY($1::bigint[])",
      [ids],
    );
    for (const r of rows) emails.set(Number(r.id), r.email);
  }
  return { ...result, items: result.items.map((i) => ({ ...i, email: emails.get(i.userId) ?? null })) };
}

/** Run the drift check (read-only) over every key with a limit, up to DRIFT_MAX_KEYS. */
export async function runDriftCheck(): Promise<Result<DriftReport>> {
  const down = await cacheReachable();
  if (down) return { ok: false, code: down };
  return {
    ok: true,
    data: await withEmails(await reconcile(appBilling(), { repair: false, maxKeys: DRIFT_MAX_KEYS })),
  };
}

const snapshot = (i: Pick<DriftItem, "redis" | "postgres">) => ({ redis: i.redis, postgres: i.postgres });

/** Repair one key now (reconcile.ts repairKey), audit it, and check again. */
export async function repairDriftKey(
  userId: number,
  platform: string,
  actor: Actor,
): Promise<Result<{ outcome: RepairOutcome; key: string; report: DriftReport }>> {
  const down = await cacheReachable();
  if (down) return { ok: false, code: down };
  const rt = appBilling();
  const [row, entry] = await Promise.all([
    rt.repo.getByUserPlatform(userId, platform),
    rt.cache!.get(userId, platform),
  ]);
  if (!row) return { ok: false, code: "QUOTA_NOT_FOUND" };
  // repairKey does not handle a malformed hash in flusher mode (the flusher skips it, so "queued" would
  // fix nothing); the repairer rewrites the bad fields from the row first, as reconcile's repair does.
  if (rt.service.config.flusherEnabled && entry?.malformed) await rt.repairer.repairKey(userId, platform);
  const outcome = await repairKey(rt, userId, platform);
  if (outcome === "no-row") return { ok: false, code: "QUOTA_NOT_FOUND" };
  const key = billingKeys.userPlatformQuota(userId, platform);
  const before = {
    redis: entry
      ? {
          daily: entry.dailyUsage,
          weekly: entry.weeklyUsage,
          monthly: entry.monthlyUsage,
          limits: [entry.dailyLimit, entry.weeklyLimit, entry.monthlyLimit],
        }
      : null,
    postgres: {
      daily: row.dailyUsage,
      weekly: row.weeklyUsage,
      monthly: row.monthlyUsage,
      limits: [row.dailyLimit, row.weeklyLimit, row.monthlyLimit],
    },
  };
  await recordAudit(pgPool(), {
    actor,
    action: "cache.repair",
    targetType: "cache",
    targetId: key,
    changes: [{ key, platform, before, after: { outcome, mode: mode() } }],
  });
  return {
    ok: true,
    data: { outcome, key, report: await withEmails(await reconcile(rt, { repair: false, maxKeys: DRIFT_MAX_KEYS })) },
  };
}

/** Repair every drifted key (reconcile with repair), audit each repaired key, and check again. */
export async function repairAllDrift(
  actor: Actor,
): Promise<Result<{ repaired: number; mode: CacheMode; report: DriftReport }>> {
  const down = await cacheReachable();
  if (down) return { ok: false, code: down };
  const rt = appBilling();
  const done = await reconcile(rt, { repair: true, maxKeys: DRIFT_MAX_KEYS });
  const outcome: RepairOutcome = done.mode === "flusher" ? "flush-queued" : "dropped";
  const repaired = done.items.filter((i) => i.repaired);
  if (repaired.length) {
    await withTransaction(pgPool(), async (c) => {
      for (const i of repaired) {
        const key = billingKeys.userPlatformQuota(i.userId, i.platform);
        const change: AuditChange = {
          key,
          platform: i.platform,
          before: snapshot(i),
          after: { outcome, mode: done.mode, kind: i.kind },
        };
        await recordAudit(c, { actor, action: "cache.repair", targetType: "cache", targetId: key, changes: [change] });
      }
    });
  }
  return {
    ok: true,
    data: {
      repaired: done.repaired,
      mode: done.mode,
      report: await withEmails(await reconcile(rt, { repair: false, maxKeys: DRIFT_MAX_KEYS })),
    },
  };
}
