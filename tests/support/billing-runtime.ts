import Redis from "ioredis";
import pg from "pg";
import { QuotaCache } from "@/lib/billing/quota-cache";
import { QuotaRepository } from "@/lib/billing/quota-repo";
import { BillingService, type BillingConfig, type BillingLogger } from "@/lib/billing/service";
import { QuotaClock } from "@/lib/billing/windows";
import { testEnv } from "./test-env";

/** Collects what the billing chain logs, so tests can assert on alerts without noise. */
export function memoryLogger() {
  const lines: string[] = [];
  const logger: BillingLogger = { warn: (m) => void lines.push(`warn ${m}`), error: (m) => void lines.push(`error ${m}`) };
  return { logger, lines };
}

/** A billing service on the test database and a given Redis URL (or none). */
export function makeBilling(opts: { redisUrl?: string | null; databaseUrl?: string; config?: Partial<BillingConfig>; timeZone?: string } = {}) {
  const pool = new pg.Pool({ connectionString: opts.databaseUrl ?? testEnv().databaseUrl, max: 20, connectionTimeoutMillis: 2000 });
  pool.on("error", () => {});
  const redisUrl = opts.redisUrl === undefined ? testEnv().redisUrl : opts.redisUrl;
  const redis = redisUrl ? new Redis(redisUrl, { maxRetriesPerRequest: 1, commandTimeout: 500, connectTimeout: 500, retryStrategy: () => 100 }) : null;
  redis?.on("error", () => {});
  const clock = new QuotaClock(opts.timeZone ?? "Asia/Shanghai");
  const repo = new QuotaRepository(pool, clock);
  const cache = redis ? new QuotaCache(redis) : null;
  const log = memoryLogger();
  const service = new BillingService({ cache, repo, clock, logger: log.logger }, opts.config);
  return {
    pool,
    redis,
    clock,
    repo,
    cache,
    service,
    log,
    async close() {
      redis?.disconnect();
      await pool.end();
    },
  };
}
