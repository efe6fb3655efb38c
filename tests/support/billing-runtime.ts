import { createBillingRuntime, type BillingConfig, type BillingLogger, type BillingRuntime } from "@/lib/billing";

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
 * composition root, with short Redis timeouts (fault tests cut the connection). The repairer is not
 * started unless `repair: true` (tests drive it with `runtime.repairer.runOnce()` / `settleAll()` to
 * stay deterministic).
 */
export function makeBilling(
  opts: {
    redisUrl?: string | null;
    databaseUrl?: string;
    config?: Partial<BillingConfig>;
    timeZone?: string;
    repair?: boolean;
    poolMax?: number;
    /** the platform registry (a fork's, in attached-mode tests); DEFAULT_PLATFORMS otherwise */
    platforms?: readonly string[];
  } = {},
): BillingRuntime & { log: ReturnType<typeof memoryLogger> } {
  const log = memoryLogger();
  const rt = createBillingRuntime({
    databaseUrl: opts.databaseUrl ?? testEnv().databaseUrl,
    redisUrl: opts.redisUrl === undefined ? testEnv().redisUrl : opts.redisUrl,
    redisOptions: { commandTimeout: 500, connectTimeout: 500, retryStrategy: () => 100 },
    timeZone: opts.timeZone ?? "Asia/Shanghai",
    poolMax: opts.poolMax ?? 20,
    config: opts.config,
    logger: log.logger,
    repair: opts.repair ?? false,
    platforms: opts.platforms,
  });
  return { ...rt, log };
}
