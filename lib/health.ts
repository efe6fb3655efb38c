import "server-only";
import { db, pgPool } from "@/lib/db/client";
import { pendingInvalidations } from "@/lib/quota/outbox";
import { redis } from "@/lib/redis/client";

export type ServiceHealth = { status: "up" | "down" | "disabled"; latencyMs: number | null; error?: string };
export type Health = {
  status: "ok" | "degraded" | "down";
  database: ServiceHealth;
  redis: ServiceHealth;
  /** Redis keys whose deletion after an admin change is not confirmed yet (retried in the background). */
  cacheInvalidations: { pending: number; oldestSeconds: number | null } | null;
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
 * Database and Redis reachability. "down" when the database is unreachable (the console cannot
 * work), "degraded" when Redis is configured but unreachable or cache invalidations are pending.
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

async function probe(): Promise<Health> {
  const r = redis();
  const [database, cache] = await Promise.all([
    timed(() => db().$queryRaw`SELECT 1`, 2000),
    r ? timed(() => r.ping(), 1000) : Promise.resolve<ServiceHealth>({ status: "disabled", latencyMs: null }),
  ]);
  const pending = database.status === "up" && r ? await pendingInvalidations(pgPool()).catch(() => null) : null;
  const status = database.status !== "up" ? "down" : cache.status === "down" || (pending?.count ?? 0) > 0 ? "degraded" : "ok";
  return {
    status,
    database,
    redis: cache,
    cacheInvalidations: pending ? { pending: pending.count, oldestSeconds: pending.oldestSeconds } : null,
    time: new Date().toISOString(),
  };
}
