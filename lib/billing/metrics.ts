/**
 * Counters of the billing chain, as plain numbers (no dependency): the service, the ledger, the
 * repairer and the flusher increment them; the console exposes them in Prometheus format
 * (/api/metrics, lib/metrics); a Node gateway registers the same metrics on its own prom-client
 * registry with `registerBillingMetrics(registry, () => runtime)` (lib/billing/prometheus.ts).
 */
export type DecisionSource =
  "skip" | "cache" | "database" | "database-no-cache" | "no-row" | "fail-open" | "fail-closed";

export type BillingMetrics = {
  /** eligibility checks by where the decision came from */
  checks: Record<DecisionSource, number>;
  /** checks that refused a request (any source) */
  blocked: number;
  /** requests let through because neither Redis nor PostgreSQL could decide */
  failOpen: number;
  cacheReadErrors: number;
  cacheWriteErrors: number;
  sentinelWriteErrors: number;
  dbLoadErrors: number;
  /** a usage op's Redis step failed (error or timeout — its fate is resolved later) */
  cacheIncrementErrors: number;
  /** a usage op's PostgreSQL write failed or its commit was unconfirmed (retried exactly once later) */
  dbIncrementErrors: number;
  rebuilds: number;
  /** rebuilds discarded because a concurrent usage op or change could make them lose a cost */
  fencedRebuilds: number;
  refreshes: number;
  /** quota hashes whose bytes no legitimate writer produces (read as Go reads them, then repaired) */
  malformedEntries: number;
  repairs: number;
  /** rebuilt hashes found missing a cost PostgreSQL has (a DEL raced an in-flight op), dropped and rebuilt */
  driftHealed: number;
  /** usage ops accepted by recordUsage (applied now or parked for the repairer) */
  usageOps: number;
  usageOpsParked: number;
  usageOpsSettled: number;
  /** parked ops held only in this process's memory (both stores unreachable) */
  usageOpsInMemory: number;
  /** usage ops the database refuses for good (their user was deleted): logged and dropped */
  usageOpsRejected: number;
  flushes: number;
  flushErrors: number;
  flushRows: number;
  flushLagMsMax: number;
  flushRecovered: number;
  outboxProcessed: number;
  outboxFailures: number;
};

export function newBillingMetrics(): BillingMetrics {
  return {
    checks: { skip: 0, cache: 0, database: 0, "database-no-cache": 0, "no-row": 0, "fail-open": 0, "fail-closed": 0 },
    blocked: 0,
    failOpen: 0,
    cacheReadErrors: 0,
    cacheWriteErrors: 0,
    sentinelWriteErrors: 0,
    dbLoadErrors: 0,
    cacheIncrementErrors: 0,
    dbIncrementErrors: 0,
    rebuilds: 0,
    fencedRebuilds: 0,
    refreshes: 0,
    malformedEntries: 0,
    repairs: 0,
    driftHealed: 0,
    usageOps: 0,
    usageOpsParked: 0,
    usageOpsSettled: 0,
    usageOpsInMemory: 0,
    usageOpsRejected: 0,
    flushes: 0,
    flushErrors: 0,
    flushRows: 0,
    flushLagMsMax: 0,
    flushRecovered: 0,
    outboxProcessed: 0,
    outboxFailures: 0,
  };
}
