import "server-only";

import { ledgerStatus, type LedgerStatus } from "@/lib/billing/ledger-status";
import { pendingInvalidations } from "@/lib/billing/outbox";
import { activeBulkJobs } from "@/lib/bulk/engine";
import type { BulkJobProgress } from "@/lib/bulk/types";
import { db, pgPool } from "@/lib/db/client";
import { gatewayStatus, type GatewayStatus } from "@/lib/db/gateway-mode";
import { redis } from "@/lib/redis/client";

export type ServiceHealth = { status: "up" | "down" | "disabled"; latencyMs: number | null; error?: string };
export type Health = {
  status: "ok" | "degraded" | "down";
  database: ServiceHealth;
  redis: ServiceHealth;
  /** Redis keys whose change after an admin write is not confirmed yet (retried in the background). */
  cacheInvalidations: { pending: number; oldestSeconds: number | null } | null;
  /** The usage ledger's backlog (docs/consistency.md): dirty keys, parked ops, outbox, last flush, last drift check. */
  ledger: LedgerStatus | null;
  /** standalone or attached to the gateway's database, and the attached-mode schema check (lib/db/compat.ts). */
  gateway: GatewayStatus | null;
  /** bulk operations still running (lib/bulk): each job's progress, users done of total */
  bulk: { running: Array<Pick<BulkJobProgress, "id" | "kind" | "state" | "total" | "done" | "conflicts">> } | null;
  time: string;
};

async function timed(fn: () => Promise<unknown>, timeoutMs: number): Promise<ServiceHealth> {
  const start = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      fn(),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error("timeout")), timeoutMs))),
    ]);
    return { status: "up", latencyMs: Math.round((performance.now() - start) * 10) / 10 };
  } catch (e) {
    // Only a short reason: connection strings or hosts never leave the server.
    const msg = e instanceof Error && e.message === "timeout" ? "timeout" : "unreachable";
    return { status: "down", latencyMs: null, error: msg };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Database and Redis reachability and the ledger's backlog. "down" when the database is unreachable
 * (the console cannot work), "degraded" when Redis is configured but unreachable, cache work is
 * pending, or the ledger has parked or overdue work.
 */
export async function getHealth(opts: { maxAgeMs?: number } = {}): Promise<Health> {
  const maxAge = opts.maxAgeMs ?? 0;
  if (maxAge > 0 && recent && Date.now() - recent.at < maxAge) return recent.health;
  const health = await probe();
  recent = { at: Date.now(), health };
  return health;
}

// The console's banner reuses a recent probe instead of pinging both services on every render.
let recent: { at: number; health: Health } | null = null;

const within = <T>(p: Promise<T>, ms: number): Promise<T | null> =>
  Promise.race([p.catch(() => null), new Promise<null>((r) => setTimeout(() => r(null), ms).unref())]);

async function probe(): Promise<Health> {
  const r = redis();
  const [database, cache] = await Promise.all([
    timed(() => db().$queryRaw`SELECT 1`, 2000),
    r ? timed(() => r.ping(), 1000) : Promise.resolve<ServiceHealth>({ status: "disabled", latencyMs: null }),
  ]);
  const [pending, ledger, gateway, bulk] = await Promise.all([
    database.status === "up" && r ? within(pendingInvalidations(pgPool()), 2000) : Promise.resolve(null),
    within(
      ledgerStatus({ pool: database.status === "up" ? pgPool() : null, redis: cache.status === "up" ? r : null }),
      2000,
    ),
    database.status === "up" ? within(gatewayStatus(), 2000) : Promise.resolve(null),
    database.status === "up" ? within(activeBulkJobs(pgPool()), 2000) : Promise.resolve(null),
  ]);
  const backlog = ledger ? (ledger.journal ?? 0) + (ledger.outbox?.overdue ?? 0) : 0;
  const status =
    database.status !== "up" || gateway?.schemaCheck === "failed"
      ? "down"
      : cache.status === "down" || (pending?.count ?? 0) > 0 || backlog > 0
        ? "degraded"
        : "ok";
  return {
    status,
    database,
    redis: cache,
    cacheInvalidations: pending ? { pending: pending.count, oldestSeconds: pending.oldestSeconds } : null,
    ledger,
    gateway,
    bulk: bulk
      ? {
          running: bulk.map((j) => ({
            id: j.id,
            kind: j.kind,
            state: j.state,
            total: j.total,
            done: j.done,
            conflicts: j.conflicts,
          })),
        }
      : null,
    time: new Date().toISOString(),
  };
}
