import type pg from "pg";

import {
  decideQuota,
  entryFromRow,
  sentinelEntry,
  windowsToRefresh,
  withPendingCosts,
  type PendingCost,
} from "./decision";
import { BillingServiceError, QuotaExhaustedError } from "./errors";
import { billingKeys } from "./keys";
import { UsageLedger, withTimeout, type RecordResult } from "./ledger";
import { newBillingMetrics, type BillingMetrics, type DecisionSource } from "./metrics";
import {
  decodeQuotaValues,
  entryHasAnyLimit,
  QUOTA_CACHE_TTL_SECONDS,
  QUOTA_SCHEMA_VERSION,
  QUOTA_SENTINEL_TTL_SECONDS,
  type DecodedQuotaEntry,
  type QuotaCache,
  type QuotaCacheEntry,
  type WindowRefresh,
} from "./quota-cache";
import type { QuotaRepository, QuotaRow } from "./quota-repo";
import type { QuotaClock } from "./windows";

/**
 * The gateway's user × platform billing chain (spec §5.2–§5.3), for any Node gateway and for the
 * console: the pre-request eligibility check and post-request usage recording, over the Redis hash
 * shared with the Go gateway and the `user_platform_quotas` table. Recording goes through the
 * usage ledger (lib/billing/ledger.ts), which never loses or double-counts a cost.
 *
 * Failure policy: a Redis or database error during the check lets the request through (fail-open,
 * as the gateway does) unless `failClosed` is set, in which case such a request is refused with
 * BillingServiceError (503). Nothing throws out of check or record.
 */
export type BillingConfig = {
  /** TTL of a normal quota hash (billing.user_platform_quota_cache_ttl_seconds). */
  cacheTtlSeconds: number;
  /** TTL of a sentinel (…_sentinel_ttl_seconds); ≤ 0 falls back to 3600. */
  sentinelTtlSeconds: number;
  /** database.user_platform_quota_flusher_enabled: record in Redis + dirty set, the flusher mirrors it. */
  flusherEnabled: boolean;
  /** Refuse requests when neither Redis nor the database can decide (default: allow). */
  failClosed: boolean;
  /** run_mode=simple: no checks, no recording. */
  simpleMode: boolean;
  dbTimeoutMs: number;
  cacheWriteTimeoutMs: number;
  incrementTimeoutMs: number;
  /** a no-op usage op's lease on its key while its PostgreSQL write is in flight */
  leaseMs: number;
  /** recordUsage resolves after this long at most; unfinished work continues and is parked */
  recordTimeoutMs: number;
};

export const DEFAULT_BILLING_CONFIG: BillingConfig = {
  cacheTtlSeconds: QUOTA_CACHE_TTL_SECONDS,
  sentinelTtlSeconds: QUOTA_SENTINEL_TTL_SECONDS,
  flusherEnabled: false,
  failClosed: false,
  simpleMode: false,
  dbTimeoutMs: 3000,
  cacheWriteTimeoutMs: 50,
  incrementTimeoutMs: 2000,
  leaseMs: 30_000,
  recordTimeoutMs: 10_000,
};

/**
 * A check's answer. A refusal says which kind it is (`kind`, also on its error): a window's quota is
 * exhausted (429, `error.window`), or neither store could decide in fail-closed mode (503).
 */
export type QuotaDecision =
  | { allowed: true; source: QuotaSource }
  | { allowed: false; kind: "quota-exhausted"; source: QuotaSource; error: QuotaExhaustedError }
  | { allowed: false; kind: "billing-unavailable"; source: "fail-closed"; error: BillingServiceError };

/** Where the decision came from — for logs, metrics and the simulator. */
export type QuotaSource = DecisionSource;

export type BillingLogger = { warn(msg: string, meta?: unknown): void; error(msg: string, meta?: unknown): void };

const ALLOW_SKIP: QuotaDecision = { allowed: true, source: "skip" };

export class BillingService {
  readonly config: BillingConfig;
  readonly metrics: BillingMetrics;
  readonly ledger: UsageLedger;
  private readonly inflight = new Map<
    string,
    Promise<{ row: QuotaRow | null; generation: string | null; pending: PendingCost[] }>
  >();

  constructor(
    private readonly deps: {
      /** null when no Redis is configured: every check then reads the database (errBillingCacheUnavailable). */
      cache: QuotaCache | null;
      repo: QuotaRepository;
      pool: Pick<pg.Pool, "query">;
      clock: QuotaClock;
      logger?: BillingLogger;
      metrics?: BillingMetrics;
      /** a check found a malformed hash (the runtime's repairer fixes it) */
      onMalformed?: (userId: number, platform: string) => void;
      /** a check rebuilt a hash from a row, or a parked op committed late (the repairer verifies the key against PostgreSQL) */
      onRebuilt?: (userId: number, platform: string) => void;
    },
    config: Partial<BillingConfig> = {},
  ) {
    this.config = { ...DEFAULT_BILLING_CONFIG, ...config };
    if (!(this.config.sentinelTtlSeconds > 0)) this.config.sentinelTtlSeconds = QUOTA_SENTINEL_TTL_SECONDS;
    this.metrics = deps.metrics ?? newBillingMetrics();
    this.ledger = new UsageLedger(
      {
        cache: deps.cache,
        repo: deps.repo,
        pool: deps.pool,
        metrics: this.metrics,
        logger: this.log,
        onMalformed: deps.onMalformed,
        onSettledLate: deps.onRebuilt,
      },
      this.config,
    );
  }

  private get log(): BillingLogger {
    return this.deps.logger ?? console;
  }

  /**
   * May this user send a request to this platform now? Cache hit → decide from Redis (resetting
   * expired windows there); miss / legacy entry / Redis error → one database load per key at a time,
   * then rebuild the entry (or write a sentinel when there is no row) unless that could lose a cost.
   */
  async checkUserPlatformQuotaEligibility(
    userId: number,
    platform: string,
    opts?: { now?: number; signal?: AbortSignal; subscriptionMode?: boolean },
  ): Promise<QuotaDecision> {
    // Subscription-mode requests are exempt from platform quotas, check and recording alike (spec §5.1).
    if (!platform || this.config.simpleMode || opts?.subscriptionMode) return this.count(ALLOW_SKIP);
    const now = opts?.now ?? Date.now();
    const cache = this.deps.cache;
    if (cache === null) return this.checkFromDatabase(userId, platform, now, true, opts?.signal);
    let values: Array<string | null>;
    try {
      values = await cache.readValues(userId, platform);
    } catch (e) {
      this.metrics.cacheReadErrors++;
      this.log.warn("billing: quota cache read failed, deciding from the database", {
        userId,
        platform,
        error: String(e),
      });
      return this.checkFromDatabase(userId, platform, now, true, opts?.signal);
    }
    // The hot path (one Redis round trip, nothing else awaited): a current entry with no window to refresh.
    const entry = decodeQuotaValues(values);
    if (entry !== null && entry.schemaVersion === QUOTA_SCHEMA_VERSION) {
      if (entry.malformed !== null) this.malformed(userId, platform);
      const refresh = windowsToRefresh(entry, this.deps.clock, now);
      if (refresh.length === 0) return this.count(this.decide(entry, now, "cache", refresh));
      return this.count(await this.refreshAndDecide(userId, platform, entry, refresh, now));
    }
    if (entry?.malformed) this.malformed(userId, platform); // e.g. schema_version "1.0": Go treats it as legacy too
    return this.checkFromDatabase(userId, platform, now, false, opts?.signal);
  }

  /** A miss, a legacy entry or no Redis: decide from the row, and rebuild the entry unless `cacheFailed`. */
  private async checkFromDatabase(
    userId: number,
    platform: string,
    now: number,
    cacheFailed: boolean,
    signal?: AbortSignal,
  ): Promise<QuotaDecision> {
    const { cache } = this.deps;
    let loaded: { row: QuotaRow | null; generation: string | null; pending: PendingCost[] };
    try {
      loaded = await this.load(userId, platform, !cacheFailed, signal);
    } catch (e) {
      this.metrics.dbLoadErrors++;
      this.metrics.failOpen++;
      this.log.error("billing: quota load failed", { userId, platform, error: String(e) });
      return this.count(
        this.config.failClosed
          ? { allowed: false, kind: "billing-unavailable", source: "fail-closed", error: new BillingServiceError() }
          : { allowed: true, source: "fail-open" },
      );
    }
    const { row, generation } = loaded;
    if (!row) {
      if (!cacheFailed && cache && generation !== null)
        await this.writeFenced(cache, userId, platform, sentinelEntry(this.deps.clock, now), generation, true);
      return this.count({ allowed: true, source: "no-row" });
    }
    if (!cacheFailed && cache && generation !== null) {
      await this.writeFenced(cache, userId, platform, entryFromRow(row, this.deps.clock, now), generation, false);
    }
    if (!cacheFailed) return this.count(this.decide(row, now, "database"));
    const state = loaded.pending.length
      ? withPendingCosts(entryFromRow(row, this.deps.clock, now), loaded.pending)
      : row;
    return this.count(this.decide(state, now, "database-no-cache"));
  }

  /**
   * Write guard of post-request recording (HasUserPlatformQuotaLimit): true unless the cached entry is
   * known and has no limit (a sentinel). Misses, Redis errors and malformed entries count as true — a
   * garbled limit must never stop the recording of usage.
   */
  async hasUserPlatformQuotaLimit(userId: number, platform: string): Promise<boolean> {
    if (this.config.simpleMode) return false;
    const { cache } = this.deps;
    if (!cache) return true;
    try {
      const entry = await cache.get(userId, platform);
      return !entry || entry.malformed !== null || entryHasAnyLimit(entry);
    } catch {
      return true;
    }
  }

  /**
   * Record the USD actually charged for a finished request, exactly once (lib/billing/ledger.ts).
   * `recorded` means the cost is in the ledger now or parked and written exactly once later.
   */
  async recordUsage(input: {
    userId: number;
    platform: string;
    cost: number;
    now?: number;
    subscriptionMode?: boolean;
  }): Promise<RecordResult> {
    const { userId, platform, cost } = input;
    const none: RecordResult = { recorded: false, cacheApplied: false, dbWritten: false, parked: null };
    if (!platform || input.subscriptionMode || !Number.isFinite(cost) || cost <= 0) return none;
    if (!(await this.hasUserPlatformQuotaLimit(userId, platform))) return none;
    return this.ledger.record(userId, platform, cost, input.now ?? Date.now());
  }

  // ---- internals ----

  private count(d: QuotaDecision): QuotaDecision {
    this.metrics.checks[d.source]++;
    if (!d.allowed) this.metrics.blocked++;
    return d;
  }

  private malformed(userId: number, platform: string) {
    this.ledger.reportMalformed(userId, platform);
  }

  /**
   * One database load per (user, platform) at a time, bounded by dbTimeoutMs and the caller's signal.
   * When the result may be written back to Redis, the key's fence generation is read first (before the
   * row), so a cost committed in between can fence the write.
   */
  private load(userId: number, platform: string, withGeneration: boolean, signal?: AbortSignal) {
    const key = `${userId}:${platform}:${withGeneration ? 1 : 0}`;
    let p = this.inflight.get(key);
    if (!p) {
      const run = async () => {
        let generation: string | null = null;
        if (withGeneration && this.deps.cache) {
          generation = await withTimeout(
            this.deps.cache.fenceGeneration(userId, platform),
            this.config.incrementTimeoutMs,
            "fence read",
          ).catch(
            () => null, // no write-back then; the decision still comes from the row
          );
        }
        const row = await this.deps.repo.getByUserPlatform(userId, platform);
        // Flusher mode without Redis: the outage's costs wait in the outbox, not in the row.
        const pending =
          !withGeneration && this.config.flusherEnabled && row
            ? await this.deps.repo.pendingReplayCosts(billingKeys.userPlatformQuota(userId, platform))
            : [];
        return { row, generation, pending };
      };
      p = withTimeout(run(), this.config.dbTimeoutMs, "quota load").finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
      // Every waiter handles the outcome; this keeps a load whose only caller gave up (aborted
      // signal) from surfacing as an unhandled rejection, which would crash the process.
      p.catch(() => {});
    }
    if (!signal) return p;
    if (signal.aborted) return Promise.reject(new Error("caller cancelled"));
    return Promise.race([
      p,
      new Promise<never>((_, reject) =>
        signal.addEventListener("abort", () => reject(new Error("caller cancelled")), { once: true }),
      ),
    ]);
  }

  private async writeFenced(
    cache: QuotaCache,
    userId: number,
    platform: string,
    entry: QuotaCacheEntry,
    generation: string,
    sentinel: boolean,
  ) {
    const ttl = sentinel ? this.config.sentinelTtlSeconds : this.config.cacheTtlSeconds;
    try {
      const r = await withTimeout(
        cache.setFenced(userId, platform, entry, ttl, generation),
        this.config.cacheWriteTimeoutMs,
        sentinel ? "sentinel" : "cache rebuild",
      );
      if (r === "written") {
        this.metrics.rebuilds++;
        if (!sentinel) this.deps.onRebuilt?.(userId, platform);
      } else if (r === "fenced-generation" || r === "fenced-lease") this.metrics.fencedRebuilds++;
    } catch (e) {
      if (sentinel) this.metrics.sentinelWriteErrors++;
      else this.metrics.cacheWriteErrors++;
      this.log.warn(`billing: quota ${sentinel ? "sentinel" : "cache rebuild"} write failed`, {
        userId,
        platform,
        error: String(e),
      });
    }
  }

  private async refreshAndDecide(
    userId: number,
    platform: string,
    entry: DecodedQuotaEntry,
    refresh: readonly WindowRefresh[],
    now: number,
  ): Promise<QuotaDecision> {
    if (this.deps.cache) {
      this.metrics.refreshes++;
      try {
        await withTimeout(
          this.deps.cache.refreshWindows(userId, platform, refresh, this.config.cacheTtlSeconds),
          this.config.cacheWriteTimeoutMs,
          "window refresh",
        );
      } catch (e) {
        this.metrics.cacheWriteErrors++;
        this.log.warn("billing: quota window refresh failed", { userId, platform, error: String(e) });
      }
    }
    return this.decide(entry, now, "cache", refresh);
  }

  /** `refresh`: the entry's expired windows when already computed (the cache path), else computed here. */
  private decide(
    state: QuotaCacheEntry | QuotaRow,
    now: number,
    source: QuotaSource,
    refresh?: readonly WindowRefresh[],
  ): QuotaDecision {
    const error = decideQuota(state, this.deps.clock, now, refresh);
    return error ? { allowed: false, kind: "quota-exhausted", source, error } : { allowed: true, source };
  }
}
