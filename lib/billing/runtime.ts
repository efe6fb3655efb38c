import Redis from "ioredis";
import pg from "pg";
import { QuotaUsageFlusher, type FlusherConfig } from "./flusher";
import { QuotaCache } from "./quota-cache";
import { QuotaRepository } from "./quota-repo";
import { BillingService, type BillingConfig, type BillingLogger } from "./service";
import { QuotaClock } from "./windows";

/**
 * Wiring of the billing chain for a standalone process (gateway simulator, flusher worker,
 * benchmarks, tests): one pg pool, one Redis connection (optional), the clock, repository,
 * cache and service. The Next.js app wires the same parts onto its own singletons.
 */
export type BillingRuntime = {
  pool: pg.Pool;
  redis: Redis | null;
  clock: QuotaClock;
  repo: QuotaRepository;
  cache: QuotaCache | null;
  service: BillingService;
  flusher: (config?: Partial<FlusherConfig>) => QuotaUsageFlusher;
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
  databaseUrl: string;
  redisUrl?: string | null;
  timeZone?: string;
  poolMax?: number;
  config?: Partial<BillingConfig>;
  logger?: BillingLogger;
}): BillingRuntime {
  const pool = new pg.Pool({ connectionString: opts.databaseUrl, max: opts.poolMax ?? 10 });
  pool.on("error", () => {});
  const redis = opts.redisUrl
    ? new Redis(opts.redisUrl, { maxRetriesPerRequest: 1, commandTimeout: 1000, connectTimeout: 2000 })
    : null;
  redis?.on("error", () => {});
  const clock = new QuotaClock(opts.timeZone ?? "Asia/Shanghai");
  const repo = new QuotaRepository(pool, clock);
  const cache = redis ? new QuotaCache(redis) : null;
  const service = new BillingService({ cache, repo, clock, logger: opts.logger }, opts.config);
  return {
    pool,
    redis,
    clock,
    repo,
    cache,
    service,
    flusher: (config) => {
      if (!cache) throw new Error("the flusher needs Redis");
      return new QuotaUsageFlusher({ cache, repo, logger: opts.logger }, config);
    },
    async close() {
      redis?.disconnect();
      await pool.end();
    },
  };
}
