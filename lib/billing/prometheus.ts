import type Redis from "ioredis";
import type pg from "pg";
import { Counter, Gauge, type Registry } from "prom-client";

import { ledgerStatus, type LedgerStatus } from "./ledger-status";
import type { BillingMetrics, DecisionSource } from "./metrics";

/**
 * The billing chain's counters (metrics.ts) and the ledger's backlog (ledger-status.ts) as
 * Prometheus metrics, `qc_billing_*`. Framework-free: the console registers them on its registry
 * (lib/metrics/app-metrics.ts, served at /api/metrics); a Node gateway that embeds lib/billing
 * does the same on its own registry and serves it however it serves /metrics:
 *
 *   const billing = createBillingRuntime({ databaseUrl, redisUrl });
 *   const registry = new Registry();            // or prom-client's global `register`
 *   registerBillingMetrics(registry, () => billing);  // a BillingRuntime is a source
 *   // GET /metrics → res.type(registry.contentType).send(await registry.metrics())
 *
 * Every value is read at scrape time through collect() callbacks: nothing runs between scrapes
 * (no timers), and `source` is called only when a scrape happens, so a lazily built runtime is
 * not built by registering. The counters are per process (they restart at 0, which `rate()`
 * handles). The ledger gauges (ledgerStatus) cost one Redis pipeline and one SQL query per scrape,
 * shared by all of them; each store is read on its own and bounded by `ledgerTimeoutMs`, so a hung
 * PostgreSQL does not hide the Redis journal that grows during that very outage. A part whose
 * store does not answer is left out of the scrape (no sample, so a stale value is never mistaken
 * for a current one), and `qc_billing_ledger_readable{store}` says which parts are present.
 *
 * Register once per registry: prom-client refuses a second metric of the same name.
 */
export type BillingMetricsSource = {
  metrics: BillingMetrics;
  /** Where the ledger gauges are read from (a BillingRuntime has both); neither: no ledger gauges. */
  pool?: Pick<pg.Pool, "query"> | null;
  redis?: Redis | null;
  /** A custom reader of the ledger's backlog instead of pool/redis (bounded as a whole). */
  ledger?: () => Promise<LedgerStatus>;
};

export type BillingPrometheusOptions = {
  /** Upper bound on reading the ledger's backlog during a scrape (default 2000 ms). */
  ledgerTimeoutMs?: number;
};

type Read = (m: BillingMetrics) => number;

/** Counters without labels: metric name (without prefix and `_total`), help, value. */
const COUNTERS: [string, string, Read][] = [
  ["blocked", "Eligibility checks that refused a request (any decision source).", (m) => m.blocked],
  ["fail_open", "Requests let through because neither Redis nor PostgreSQL could decide.", (m) => m.failOpen],
  ["rebuilds", "Quota hashes rebuilt in Redis from PostgreSQL.", (m) => m.rebuilds],
  [
    "rebuilds_fenced",
    "Rebuilds discarded because a concurrent usage op or admin change could have made them lose a cost.",
    (m) => m.fencedRebuilds,
  ],
  [
    "refreshes",
    "Cache hits whose expired windows were reset in Redis before deciding (window rollover).",
    (m) => m.refreshes,
  ],
  [
    "malformed_entries",
    "Quota hashes in Redis whose bytes no legitimate writer produces (read as the gateway reads them, then repaired).",
    (m) => m.malformedEntries,
  ],
  ["repairs", "Malformed quota hashes the repairer rebuilt from PostgreSQL.", (m) => m.repairs],
  [
    "drift_healed",
    "Rebuilt hashes found missing a cost PostgreSQL has (a DEL raced an in-flight op), dropped and rebuilt.",
    (m) => m.driftHealed,
  ],
  ["flushes", "Flusher batches committed to PostgreSQL.", (m) => m.flushes],
  [
    "flush_errors",
    "Flusher batches whose PostgreSQL write failed (keys put back for the next batch).",
    (m) => m.flushErrors,
  ],
  ["flushed_rows", "Quota rows written by the flusher.", (m) => m.flushRows],
  ["flusher_recoveries", "Keys recovered from a dead flusher's in-flight set.", (m) => m.flushRecovered],
  ["outbox_processed", "Outbox rows (admin changes) carried into Redis.", (m) => m.outboxProcessed],
  ["outbox_failures", "Outbox rows whose Redis step failed (retried later).", (m) => m.outboxFailures],
];

/** Counters with one label: name, help, label name, label value → read. */
const LABELED_COUNTERS: [string, string, string, Record<string, Read>][] = [
  [
    "checks",
    "Eligibility checks, by where the decision came from.",
    "source",
    Object.fromEntries(
      (
        [
          "skip",
          "cache",
          "database",
          "database-no-cache",
          "no-row",
          "fail-open",
          "fail-closed",
        ] satisfies DecisionSource[]
      ).map((s) => [s, (m: BillingMetrics) => m.checks[s] ?? 0]),
    ),
  ],
  [
    "redis_errors",
    "Failed Redis steps of the billing chain, by operation (an increment's fate is resolved later by the ledger).",
    "op",
    {
      read: (m) => m.cacheReadErrors,
      write: (m) => m.cacheWriteErrors,
      sentinel_write: (m) => m.sentinelWriteErrors,
      increment: (m) => m.cacheIncrementErrors,
    },
  ],
  [
    "db_errors",
    "Failed PostgreSQL steps of the billing chain, by operation (an increment is retried exactly once later).",
    "op",
    { load: (m) => m.dbLoadErrors, increment: (m) => m.dbIncrementErrors },
  ],
  [
    "usage_ops",
    "Usage ops by stage: accepted by recordUsage, parked for the repairer (a store failed), settled by the repairer, rejected for good by the database (user deleted; logged and dropped).",
    "stage",
    {
      accepted: (m) => m.usageOps,
      parked: (m) => m.usageOpsParked,
      settled: (m) => m.usageOpsSettled,
      rejected: (m) => m.usageOpsRejected,
    },
  ],
];

/** Gauges read from the in-process metrics. */
const GAUGES: [string, string, Read][] = [
  [
    "usage_ops_in_memory",
    "Parked usage ops held only in this process's memory (both stores were unreachable); lost if the process dies.",
    (m) => m.usageOpsInMemory,
  ],
  [
    "flush_latency_max_seconds",
    "Longest flusher batch (claim to commit) since the process started.",
    (m) => m.flushLagMsMax / 1000,
  ],
];

type Snapshot = LedgerStatus | null;

/** Ledger gauges: name, help, value from the snapshot (null: omitted from this scrape). */
const LEDGER_GAUGES: [string, string, (s: LedgerStatus) => number | null][] = [
  [
    "dirty_keys",
    "Members of the dirty set: quota keys with usage PostgreSQL has not seen yet (flusher mode).",
    (s) => s.dirty,
  ],
  ["flushing_keys", "Keys claimed by flushers and not committed yet.", (s) => s.flushing],
  ["journal_ops", "Usage ops parked in the Redis journal (PostgreSQL write pending).", (s) => s.journal],
  ["outbox_rows", "Outbox rows (admin changes) not yet carried into Redis.", (s) => s.outbox?.rows ?? null],
  ["outbox_overdue_rows", "Outbox rows past their retry time.", (s) => s.outbox?.overdue ?? null],
  [
    "outbox_oldest_age_seconds",
    "Age of the oldest pending outbox row (0 when there is none).",
    (s) => (s.outbox ? (s.outbox.oldestSeconds ?? 0) : null),
  ],
  [
    "last_flush_age_seconds",
    "Seconds since a flusher last committed a batch (absent: never, or Redis unreadable).",
    (s) => s.lastFlushAgeSeconds,
  ],
  [
    "drift_last_checked_keys",
    "Keys compared with PostgreSQL by the last drift check.",
    (s) => s.lastDrift?.checked ?? null,
  ],
  [
    "drift_last_drifted_keys",
    "Keys the last drift check found different from PostgreSQL.",
    (s) => s.lastDrift?.drifted ?? null,
  ],
  ["drift_last_repaired_keys", "Keys the last drift check repaired.", (s) => s.lastDrift?.repaired ?? null],
  [
    "drift_last_check_timestamp_seconds",
    "When the last drift check ran (Unix time).",
    (s) => {
      const at = s.lastDrift ? Date.parse(s.lastDrift.at) : NaN;
      return Number.isFinite(at) ? at / 1000 : null;
    },
  ],
];

const PREFIX = "qc_billing_";

export function registerBillingMetrics(
  registry: Registry,
  source: () => BillingMetricsSource,
  opts: BillingPrometheusOptions = {},
): void {
  const registers = [registry];

  for (const [name, help, label, reads] of LABELED_COUNTERS) {
    new Counter({
      name: `${PREFIX}${name}_total`,
      help,
      labelNames: [label],
      registers,
      collect() {
        const m = source().metrics;
        this.reset();
        for (const [value, read] of Object.entries(reads)) this.inc({ [label]: value }, read(m));
      },
    });
  }

  for (const [name, help, read] of COUNTERS) {
    new Counter({
      name: `${PREFIX}${name}_total`,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(read(source().metrics));
      },
    });
  }

  for (const [name, help, read] of GAUGES) {
    new Gauge({
      name: `${PREFIX}${name}`,
      help,
      registers,
      collect() {
        this.set(read(source().metrics));
      },
    });
  }

  // One ledger read per scrape: every ledger gauge's collect() starts in the same tick of
  // registry.metrics() and awaits the same promise; it is dropped once settled.
  const timeoutMs = opts.ledgerTimeoutMs ?? 2000;
  let inflight: Promise<Snapshot> | null = null;
  const snapshot = (): Promise<Snapshot> => {
    inflight ??= readLedger(source(), timeoutMs).finally(() => {
      inflight = null;
    });
    return inflight;
  };
  for (const [name, help, read] of LEDGER_GAUGES) {
    new Gauge({
      name: `${PREFIX}${name}`,
      help,
      registers,
      async collect() {
        const s = await snapshot();
        const v = s ? read(s) : null;
        if (v === null) this.remove({});
        else this.set(v);
      },
    });
  }

  new Gauge({
    name: `${PREFIX}ledger_readable`,
    help: "1 when this scrape read the ledger's gauges from that store (redis: dirty/flushing/journal/last flush/drift; postgres: outbox), else 0.",
    labelNames: ["store"],
    registers,
    async collect() {
      const s = await snapshot();
      this.set({ store: "redis" }, s && s.dirty !== null ? 1 : 0);
      this.set({ store: "postgres" }, s && s.outbox !== null ? 1 : 0);
    },
  });
}

/** The ledger's backlog, each store read on its own (one hung store does not hide the other's part). */
async function readLedger(s: BillingMetricsSource, ms: number): Promise<Snapshot> {
  if (s.ledger) return within(s.ledger(), ms);
  if (!s.pool && !s.redis) return null;
  const [r, p] = await Promise.all([
    within(ledgerStatus({ pool: null, redis: s.redis ?? null }), ms),
    within(ledgerStatus({ pool: s.pool ?? null, redis: null }), ms),
  ]);
  return {
    dirty: r?.dirty ?? null,
    flushing: r?.flushing ?? null,
    journal: r?.journal ?? null,
    lastFlushAgeSeconds: r?.lastFlushAgeSeconds ?? null,
    lastDrift: r?.lastDrift ?? null,
    outbox: p?.outbox ?? null,
  };
}

/** `p`'s value, or null when it rejects or takes longer than `ms` (a scrape never hangs on a store). */
function within<T>(p: Promise<T>, ms: number): Promise<T | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p.catch(() => null),
    new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), ms);
      timer.unref?.();
    }),
  ]).finally(() => clearTimeout(timer));
}
