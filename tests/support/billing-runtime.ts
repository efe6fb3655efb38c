import Redis from "ioredis";

import { REDIS_OPTIONS } from "@/lib/billing/connections";
import { createBillingRuntime, type BillingRuntime } from "@/lib/billing/runtime";
import type { BillingConfig, BillingLogger } from "@/lib/billing/service";

import { testEnv } from "./test-env";

/** Collects what the billing chain logs, so tests can assert on alerts without noise. */
export function memoryLogger() {
  const lines: string[] = [];
  const logger: BillingLogger = {
    warn: (m) => void lines.push(`warn ${m}`),
    error: (m) => void lines.push(`error ${m}`),
  };
  return { logger, lines };
}

/**
 * A billing runtime on the test database and a given Redis URL (or none), built by the library's own
 * composition root. The repairer is not started unless `repair: true` (tests drive it with
 * `runtime.repairer.runOnce()` / `settleAll()` to stay deterministic).
 */
export function makeBilling(
  opts: {
    redisUrl?: string | null;
    databaseUrl?: string;
    config?: Partial<BillingConfig>;
    timeZone?: string;
    repair?: boolean;
    poolMax?: number;
  } = {},
): BillingRuntime & { log: ReturnType<typeof memoryLogger> } {
  const redisUrl = opts.redisUrl === undefined ? testEnv().redisUrl : opts.redisUrl;
  const log = memoryLogger();
  const redis = redisUrl
    ? new Redis(redisUrl, { ...REDIS_OPTIONS, commandTimeout: 500, connectTimeout: 500, retryStrategy: () => 100 })
    : null;
  redis?.on("error", () => {});
  const rt = createBillingRuntime({
    databaseUrl: opts.databaseUrl ?? testEnv().databaseUrl,
    redis,
    timeZone: opts.timeZone ?? "Asia/Shanghai",
    poolMax: opts.poolMax ?? 20,
    config: opts.config,
    logger: log.logger,
    repair: opts.repair ?? false,
  });
  const close = rt.close;
  return {
    ...rt,
    log,
    async close() {
      await close();
      redis?.disconnect();
    },
  };
}
