import { BillingServiceError, QuotaExhaustedError } from "./errors";
import {
  hasAnyLimit,
  QUOTA_CACHE_TTL_SECONDS,
  QUOTA_SCHEMA_VERSION,
  QUOTA_SENTINEL_TTL_SECONDS,
  type QuotaCache,
  type QuotaCacheEntry,
  type WindowRefresh,
} from "./quota-cache";
import type { QuotaRepository, QuotaRow } from "./quota-repo";
import {
  cacheWindowExpired,
  formatRfc3339,
  monthlyWindowExpired,
  nextMonthlyResetFrom,
  type QuotaClock,
  type Window,
} from "./windows";

/**
 * The gateway's user × platform billing chain (spec §5.2–§5.3), for any Node gateway and for the
 * console: the pre-request eligibility check and post-request usage recording, over the Redis
 * hash shared with the Go gateway and the `user_platform_quotas` table.
 *
 * Failure policy: a Redis or database error during the check lets the request through
 * (fail-open, as the gateway does) unless `failClosed` is set, in which case such a request is
 * refused with BillingServiceError (503). Nothing throws out of check or record.
 */
export type BillingConfig = {
  /** TTL of a normal quota hash (billing.user_platform_quota_cache_ttl_seconds). */
  cacheTtlSeconds: number;
  /** TTL of a sentinel (…_sentinel_ttl_seconds); ≤ 0 falls back to 3600. */
  sentinelTtlSeconds: number;
  /** database.user_platform_quota_flusher_enabled: mark dirty, no direct DB increment. */
  flusherEnabled: boolean;
  /** Refuse requests when neither Redis nor the database can decide (default: allow). */
  failClosed: boolean;
  /** run_mode=simple: no checks, no recording. */
  simpleMode: boolean;
  dbTimeoutMs: number;
  cacheWriteTimeoutMs: number;
  incrementTimeoutMs: number;
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
};

export type QuotaDecision =
  | { allowed: true; source: QuotaSource }
  | { allowed: false; source: QuotaSource; error: QuotaExhaustedError | BillingServiceError };

/** Where the decision came from — for logs, metrics and the simulator. */
export type QuotaSource = "skip" | "cache" | "database" | "database-no-cache" | "no-row" | "fail-open" | "fail-closed";

export type BillingLogger = { warn(msg: string, meta?: unknown): void; error(msg: string, meta?: unknown): void };

export type BillingMetrics = {
  cacheReadErrors: number;
  cacheWriteErrors: number;
  sentinelWriteErrors: number;
  dbLoadErrors: number;
  dbIncrementErrors: number;
  cacheIncrementErrors: number;
  refreshes: number;
};

class TimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`${what} timed out after ${ms} ms`);
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TimeoutError(what, ms)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

const ALLOW_SKIP: QuotaDecision = { allowed: true, source: "skip" };

export class BillingService {
  readonly config: BillingConfig;
  readonly metrics: BillingMetrics = {
    cacheReadErrors: 0,
    cacheWriteErrors: 0,
    sentinelWriteErrors: 0,
    dbLoadErrors: 0,
    dbIncrementErrors: 0,
    cacheIncrementErrors: 0,
    refreshes: 0,
  };
  private readonly inflight = new Map<string, Promise<QuotaRow | null>>();

  constructor(
    private readonly deps: {
      /** null when no Redis is configured: every check then reads the database (errBillingCacheUnavailable). */
      cache: QuotaCache | null;
      repo: QuotaRepository;
      clock: QuotaClock;
      logger?: BillingLogger;
    },
    config: Partial<BillingConfig> = {},
  ) {
    this.config = { ...DEFAULT_BILLING_CONFIG, ...config };
    if (!(this.config.sentinelTtlSeconds > 0)) this.config.sentinelTtlSeconds = QUOTA_SENTINEL_TTL_SECONDS;
  }

  private get log(): BillingLogger {
    return this.deps.logger ?? console;
  }

  /**
   * May this user send a request to this platform now? Cache hit → decide from Redis (resetting
   * expired windows there); miss / legacy entry / Redis error → one database load per key at a
   * time, then rebuild the entry (or write a sentinel when there is no row).
   */
  async checkUserPlatformQuotaEligibility(
    userId: number,
    platform: string,
    opts: { now?: number; signal?: AbortSignal; subscriptionMode?: boolean } = {},
  ): Promise<QuotaDecision> {
    // Subscription-mode requests are exempt from platform quotas, check and recording alike (spec §5.1).
    if (!platform || this.config.simpleMode || opts.subscriptionMode) return ALLOW_SKIP;
    const now = opts.now ?? Date.now();
    const { cache } = this.deps;
    let cacheFailed = cache === null;
    if (cache) {
      try {
        const entry = await cache.get(userId, platform);
        if (entry && entry.schemaVersion === QUOTA_SCHEMA_VERSION) {
          return await this.decideFromCache(userId, platform, entry, now);
        }
      } catch (e) {
        cacheFailed = true;
        this.metrics.cacheReadErrors++;
        this.log.warn("billing: quota cache read failed, deciding from the database", { userId, platform, error: String(e) });
      }
    }

    let row: QuotaRow | null;
    try {
      row = await this.loadRow(userId, platform, opts.signal);
    } catch (e) {
      this.metrics.dbLoadErrors++;
      this.log.error("billing: quota load failed", { userId, platform, error: String(e) });
      return this.config.failClosed
        ? { allowed: false, source: "fail-closed", error: new BillingServiceError() }
        : { allowed: true, source: "fail-open" };
    }

    if (!row) {
      if (!cacheFailed && cache) await this.writeSentinel(cache, userId, platform, now);
      return { allowed: true, source: "no-row" };
    }
    const entry = this.entryFromRow(row, now);
    if (!cacheFailed && cache) {
      try {
        // Only if nobody rebuilt it meanwhile: a second rebuild would wipe increments made since.
        await withTimeout(cache.setIfAbsent(userId, platform, entry, this.config.cacheTtlSeconds), this.config.cacheWriteTimeoutMs, "cache rebuild");
      } catch (e) {
        this.metrics.cacheWriteErrors++;
        this.log.warn("billing: quota cache rebuild failed", { userId, platform, error: String(e) });
      }
    }
    return this.decide(entry, now, cacheFailed ? "database-no-cache" : "database");
  }

  /**
   * Write guard of post-request recording (HasUserPlatformQuotaLimit): true unless the cached
   * entry is known and has no limit (a sentinel). Misses and Redis errors count as true.
   */
  async hasUserPlatformQuotaLimit(userId: number, platform: string): Promise<boolean> {
    if (this.config.simpleMode) return false;
    const { cache } = this.deps;
    if (!cache) return true;
    try {
      const entry = await cache.get(userId, platform);
      return entry ? hasAnyLimit(entry) : true;
    } catch {
      return true;
    }
  }

  /**
   * Record the USD actually charged for a finished request: Redis increment (no-op on a missing
   * or legacy entry; marks the key dirty when the flusher is on) and, without the flusher, the
   * database increment with window reset. Errors are counted and logged, never thrown.
   */
  async recordUsage(input: { userId: number; platform: string; cost: number; now?: number; subscriptionMode?: boolean }): Promise<{
    recorded: boolean;
    cacheApplied: boolean;
    dbWritten: boolean;
  }> {
    const { userId, platform, cost } = input;
    const none = { recorded: false, cacheApplied: false, dbWritten: false };
    if (!platform || input.subscriptionMode || !Number.isFinite(cost) || cost <= 0) return none;
    if (!(await this.hasUserPlatformQuotaLimit(userId, platform))) return none;
    const now = input.now ?? Date.now();
    let cacheApplied = false;
    let dbWritten = false;
    const { cache, repo } = this.deps;
    if (cache) {
      try {
        cacheApplied = await withTimeout(
          cache.increment(userId, platform, cost, this.config.cacheTtlSeconds, this.config.flusherEnabled),
          this.config.incrementTimeoutMs,
          "cache increment",
        );
      } catch (e) {
        this.metrics.cacheIncrementErrors++;
        this.log.error("ALERT billing: quota cache increment failed", { userId, platform, cost, error: String(e) });
      }
    }
    if (!this.config.flusherEnabled) {
      try {
        await repo.incrementUsageWithReset(userId, platform, cost, now);
        dbWritten = true;
      } catch (e) {
        this.metrics.dbIncrementErrors++;
        this.log.error("ALERT billing: quota database increment failed", { userId, platform, cost, error: String(e) });
      }
    }
    return { recorded: true, cacheApplied, dbWritten };
  }

  // ---- internals ----

  /** One database load per (user, platform) at a time; bounded by dbTimeoutMs and the caller's signal. */
  private loadRow(userId: number, platform: string, signal?: AbortSignal): Promise<QuotaRow | null> {
    const key = `${userId}:${platform}`;
    let p = this.inflight.get(key);
    if (!p) {
      p = withTimeout(this.deps.repo.getByUserPlatform(userId, platform), this.config.dbTimeoutMs, "quota load").finally(() =>
        this.inflight.delete(key),
      );
      this.inflight.set(key, p);
      // Every waiter handles the outcome; this keeps a load whose only caller gave up (aborted
      // signal) from surfacing as an unhandled rejection, which would crash the process.
      p.catch(() => {});
    }
    if (!signal) return p;
    if (signal.aborted) return Promise.reject(new Error("caller cancelled"));
    return Promise.race([
      p,
      new Promise<never>((_, reject) => signal.addEventListener("abort", () => reject(new Error("caller cancelled")), { once: true })),
    ]);
  }

  private async writeSentinel(cache: QuotaCache, userId: number, platform: string, now: number) {
    const { clock } = this.deps;
    const sentinel: QuotaCacheEntry = {
      dailyUsage: 0,
      weeklyUsage: 0,
      monthlyUsage: 0,
      version: 0,
      schemaVersion: QUOTA_SCHEMA_VERSION,
      dailyLimit: null,
      weeklyLimit: null,
      monthlyLimit: null,
      dailyWindowStart: clock.startOfDay(now),
      weeklyWindowStart: clock.startOfWeek(now),
      monthlyWindowStart: now,
    };
    try {
      await withTimeout(cache.setIfAbsent(userId, platform, sentinel, this.config.sentinelTtlSeconds), this.config.cacheWriteTimeoutMs, "sentinel");
    } catch (e) {
      this.metrics.sentinelWriteErrors++;
      this.log.warn("billing: quota sentinel write failed", { userId, platform, error: String(e) });
    }
  }

  /**
   * Cache entry built from a database row without losing usage (DESIGN §3.1): an expired window
   * gets usage 0 and the current window start; a live window keeps the row's usage and start.
   * (The gateway copies stale starts, so the next check zeroes usage recorded in between.)
   */
  private entryFromRow(row: QuotaRow, now: number): QuotaCacheEntry {
    const { clock } = this.deps;
    const sod = clock.startOfDay(now);
    const sow = clock.startOfWeek(now);
    const dailyLive = !cacheWindowExpired(row.dailyWindowStart, sod);
    const weeklyLive = !cacheWindowExpired(row.weeklyWindowStart, sow);
    const monthlyLive = !monthlyWindowExpired(row.monthlyWindowStart, now);
    return {
      dailyUsage: dailyLive ? row.dailyUsage : 0,
      weeklyUsage: weeklyLive ? row.weeklyUsage : 0,
      monthlyUsage: monthlyLive ? row.monthlyUsage : 0,
      version: 0,
      schemaVersion: QUOTA_SCHEMA_VERSION,
      dailyLimit: row.dailyLimit,
      weeklyLimit: row.weeklyLimit,
      monthlyLimit: row.monthlyLimit,
      dailyWindowStart: dailyLive ? row.dailyWindowStart : sod,
      weeklyWindowStart: weeklyLive ? row.weeklyWindowStart : sow,
      monthlyWindowStart: monthlyLive ? row.monthlyWindowStart : now,
    };
  }

  private async decideFromCache(userId: number, platform: string, entry: QuotaCacheEntry, now: number): Promise<QuotaDecision> {
    const { clock } = this.deps;
    const sod = clock.startOfDay(now);
    const sow = clock.startOfWeek(now);
    const refresh: WindowRefresh[] = [];
    if (cacheWindowExpired(entry.dailyWindowStart, sod)) refresh.push({ window: "daily", seenStart: entry.dailyWindowStart, newStart: sod });
    if (cacheWindowExpired(entry.weeklyWindowStart, sow)) refresh.push({ window: "weekly", seenStart: entry.weeklyWindowStart, newStart: sow });
    if (monthlyWindowExpired(entry.monthlyWindowStart, now)) refresh.push({ window: "monthly", seenStart: entry.monthlyWindowStart, newStart: now });
    // Sentinels (no limits) are never refreshed, so their short TTL is not upgraded (spec §4.4).
    if (refresh.length > 0 && hasAnyLimit(entry) && this.deps.cache) {
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
    return this.decide(entry, now, "cache");
  }

  /** daily → weekly → monthly; blocked when a limit is set and usage ≥ limit (expired usage = 0). */
  private decide(entry: QuotaCacheEntry, now: number, source: QuotaSource): QuotaDecision {
    const { clock } = this.deps;
    if (entry.dailyLimit !== null) {
      const used = cacheWindowExpired(entry.dailyWindowStart, clock.startOfDay(now)) ? 0 : entry.dailyUsage;
      if (used >= entry.dailyLimit) return this.blocked("daily", clock.formatRfc3339(clock.nextDailyReset(now)), source);
    }
    if (entry.weeklyLimit !== null) {
      const used = cacheWindowExpired(entry.weeklyWindowStart, clock.startOfWeek(now)) ? 0 : entry.weeklyUsage;
      if (used >= entry.weeklyLimit) return this.blocked("weekly", clock.formatRfc3339(clock.nextWeeklyReset(now)), source);
    }
    if (entry.monthlyLimit !== null) {
      const used = monthlyWindowExpired(entry.monthlyWindowStart, now) ? 0 : entry.monthlyUsage;
      if (used >= entry.monthlyLimit) {
        return this.blocked("monthly", formatRfc3339(nextMonthlyResetFrom(entry.monthlyWindowStart, now), "UTC"), source);
      }
    }
    return { allowed: true, source };
  }

  private blocked(window: Window, resetsAt: string, source: QuotaSource): QuotaDecision {
    return { allowed: false, source, error: new QuotaExhaustedError(window, resetsAt) };
  }
}
