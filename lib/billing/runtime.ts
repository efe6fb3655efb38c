import Redis, { type RedisOptions } from "ioredis";
import type pg from "pg";

import { billingPool, REDIS_OPTIONS } from "./connections";
import { QuotaUsageFlusher, type FlusherConfig } from "./flusher";
import { newBillingMetrics, type BillingMetrics } from "./metrics";
import { DEFAULT_PLATFORMS } from "./platforms";
import { QuotaCache } from "./quota-cache";
import { QuotaRepository, type PlatformsProvider } from "./quota-repo";
import { BillingRepairer } from "./repairer";
import { BillingService, type BillingConfig, type BillingLogger } from "./service";
import { QuotaClock } from "./windows";

/**
 * The one composition root of the billing chain. The console app, the gateway simulator, the flusher
 * worker, the chaos suite, the benchmarks and the tests all build the graph here — from URLs, or on a
 * pool and Redis client they already own (the app shares its pool with Prisma). The runtime starts
 * the repairer (lib/billing/repairer.ts) unless told not to: recording is only exactly-once with it
 * running somewhere.
 */
export type BillingRuntime = {
  pool: pg.Pool;
  redis: Redis | null;
  clock: QuotaClock;
  repo: QuotaRepository;
  cache: QuotaCache | null;
  /** The platform registry (lib/billing/platforms.ts), in its order: resolved once, then cached. */
  platforms: () => Promise<readonly string[]>;
  service: BillingService;
  repairer: BillingRepairer;
  metrics: BillingMetrics;
  flusher: (config?: Partial<FlusherConfig>) => QuotaUsageFlusher;
  /** Stop the repairer (after one last pass) and, if this runtime opened them, the connections. */
  close(): Promise<void>;
};

/** Billing config from the gateway's environment names (BILLING_…, QUOTA_…). */
export function billingConfigFromEnv(env: NodeJS.ProcessEnv = process.env): Partial<BillingConfig> {
  const n = (v: string | undefined) => (v === undefined || v === "" ? undefined : Number(v));
  const out: Partial<BillingConfig> = {};
  const ttl = n(env.BILLING_USER_PLATFORM_QUOTA_CACHE_TTL_SECONDS);
  if (ttl !== undefined) out.cacheTtlSeconds = ttl;
  const sentinel = n(env.BILLING_USER_PLATFORM_QUOTA_SENTINEL_TTL_SECONDS);
  if (sentinel !== undefined) out.sentinelTtlSeconds = sentinel;
  if (env.QUOTA_FLUSHER_ENABLED) out.flusherEnabled = env.QUOTA_FLUSHER_ENABLED === "true";
  if (env.QUOTA_FAIL_CLOSED) out.failClosed = env.QUOTA_FAIL_CLOSED === "true";
  return out;
}

export function createBillingRuntime(opts: {
  /** an existing pool (not closed by the runtime), or a URL to open one */
  pool?: pg.Pool;
  databaseUrl?: string;
  /** an existing client (not closed by the runtime), null for none, or a URL */
  redis?: Redis | null;
  redisUrl?: string | null;
  /** options for the client opened from redisUrl, over REDIS_OPTIONS (e.g. shorter timeouts in tests) */
  redisOptions?: RedisOptions;
  timeZone?: string;
  poolMax?: number;
  config?: Partial<BillingConfig>;
  logger?: BillingLogger;
  /**
   * The platform registry, or a function that resolves it (called once, on first use, and cached):
   * the app passes the live gateway's list in attached mode. Default DEFAULT_PLATFORMS.
   */
  platforms?: readonly string[] | PlatformsProvider;
  /** false: do not start the repairer here (another process runs it); default true */
  repair?: boolean;
  repairIntervalMs?: number;
}): BillingRuntime {
  const ownPool = !opts.pool;
  if (!opts.pool && !opts.databaseUrl) throw new Error("createBillingRuntime: pool or databaseUrl is required");
  const pool = opts.pool ?? billingPool(opts.databaseUrl as string, opts.poolMax ?? 10);
  const ownRedis = opts.redis === undefined && !!opts.redisUrl;
  const redis =
    opts.redis !== undefined
      ? opts.redis
      : opts.redisUrl
        ? new Redis(opts.redisUrl, { ...REDIS_OPTIONS, ...opts.redisOptions })
        : null;
  if (ownRedis) redis?.on("error", () => {});
  const clock = new QuotaClock(opts.timeZone ?? "Asia/Shanghai");
  const given = opts.platforms ?? DEFAULT_PLATFORMS;
  let resolved: Promise<readonly string[]> | null = null;
  const platforms = () => {
    if (!resolved) {
      resolved = Promise.resolve(typeof given === "function" ? given() : given);
      resolved.catch(() => (resolved = null)); // a failed lookup is retried
    }
    return resolved;
  };
  const repo = new QuotaRepository(pool, clock, platforms);
  const cache = redis ? new QuotaCache(redis) : null;
  const metrics = newBillingMetrics();
  const logger = opts.logger ?? console;
  let repairer: BillingRepairer | null = null;
  const service = new BillingService(
    {
      cache,
      repo,
      pool,
      clock,
      logger,
      metrics,
      onMalformed: (u, p) => repairer?.reportMalformed(u, p),
      onRebuilt: (u, p) => repairer?.verifyRebuild(u, p),
    },
    opts.config,
  );
  repairer = new BillingRepairer(
    {
      cache,
      redis,
      repo,
      pool,
      ledger: service.ledger,
      clock,
      metrics,
      logger,
      flusherEnabled: service.config.flusherEnabled,
    },
    opts.repairIntervalMs,
  );
  if (opts.repair !== false) repairer.start();
  const r = repairer;
  return {
    pool,
    redis,
    clock,
    repo,
    cache,
    platforms,
    service,
    repairer: r,
    metrics,
    flusher: (config) => {
      if (!cache) throw new Error("the flusher needs Redis");
      return new QuotaUsageFlusher({ cache, repo, logger, metrics }, config);
    },
    async close() {
      await r.stop();
      await service.ledger.drain();
      await r.runOnce().catch(() => {});
      if (ownRedis) redis?.disconnect();
      if (ownPool) await pool.end();
    },
  };
}
