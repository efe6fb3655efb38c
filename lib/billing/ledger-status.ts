import type Redis from "ioredis";
import type pg from "pg";

import { billingKeys, ledgerKeys } from "./keys";
import { outboxBacklog } from "./outbox";

/**
 * The ledger's backlog as an operator reads it (/api/health, the Cache health panel, metrics): how
 * many keys wait for the flusher, how many usage ops are parked, the outbox, when a flush last
 * committed and what the last drift check found. Each part is null when its store is unreachable.
 */
export type LedgerStatus = {
  /** members of billing:upq:dirty (keys with usage PostgreSQL has not seen; flusher mode) */
  dirty: number | null;
  /** members popped by a flusher and not committed yet */
  flushing: number | null;
  /** usage ops parked in the Redis journal (PostgreSQL write pending) */
  journal: number | null;
  outbox: { rows: number; overdue: number; oldestSeconds: number | null } | null;
  /** seconds since a lib/billing flusher last committed a batch (null: never, or no Redis) */
  lastFlushAgeSeconds: number | null;
  lastDrift: { at: string; checked: number; drifted: number; repaired: number } | null;
};

export async function ledgerStatus(deps: {
  pool: Pick<pg.Pool, "query"> | null;
  redis: Redis | null;
}): Promise<LedgerStatus> {
  const r = deps.redis;
  const [redisPart, outbox] = await Promise.all([
    r
      ? (async () => {
          const flushers = await r.smembers(ledgerKeys.flushers);
          const p = r
            .pipeline()
            .scard(billingKeys.dirtySet)
            .zcard(ledgerKeys.journal)
            .get(ledgerKeys.lastFlush)
            .get(ledgerKeys.reconcile);
          for (const f of flushers) p.scard(ledgerKeys.flushing(f));
          const res = (await p.exec()) ?? [];
          const val = (i: number) => (res[i]?.[0] ? null : res[i]?.[1]);
          const flushing = res.slice(4).reduce((s, [, n]) => s + Number(n ?? 0), 0);
          const last = val(2) as string | null;
          let drift: LedgerStatus["lastDrift"] = null;
          try {
            drift = val(3) ? (JSON.parse(val(3) as string) as LedgerStatus["lastDrift"]) : null;
          } catch {
            drift = null;
          }
          return {
            dirty: Number(val(0) ?? 0),
            journal: Number(val(1) ?? 0),
            flushing,
            lastFlushAgeSeconds: last ? Math.max(0, Math.round((Date.now() - Number(last)) / 1000)) : null,
            lastDrift: drift,
          };
        })().catch(() => null)
      : Promise.resolve(null),
    deps.pool ? outboxBacklog(deps.pool).catch(() => null) : Promise.resolve(null),
  ]);
  return {
    dirty: redisPart?.dirty ?? null,
    flushing: redisPart?.flushing ?? null,
    journal: redisPart?.journal ?? null,
    outbox,
    lastFlushAgeSeconds: redisPart?.lastFlushAgeSeconds ?? null,
    lastDrift: redisPart?.lastDrift ?? null,
  };
}
