import pg from "pg";

/**
 * Timeouts of every billing connection to PostgreSQL: a hung server (accepts, never answers) or a
 * pause costs a bounded time, never a pile of pending promises. statement_timeout and
 * idle_in_transaction_session_timeout are enforced by the server (sent as startup parameters; behind
 * PgBouncer list them in ignore_startup_parameters), query_timeout and connectionTimeoutMillis by the
 * client. The idle-in-transaction bound is also how long an unconfirmed COMMIT can stay "in progress".
 */
export const PG_TIMEOUTS = {
  connectionTimeoutMillis: 3000,
  statement_timeout: 5000,
  query_timeout: 6000,
  idle_in_transaction_session_timeout: 10_000,
} as const;

/**
 * The console's tables live in their own schema, the gateway's in `public` (prisma/schema.prisma):
 * every console connection resolves unqualified names there first. A startup parameter, so it
 * holds from the first statement of every pooled connection (behind PgBouncer, which drops
 * `options`, set it on the role instead: README "Attach to your sub2api").
 */
export const PG_SEARCH_PATH = { options: "-c search_path=quota_console,public" } as const;

export function billingPool(connectionString: string, max = 10): pg.Pool {
  const pool = new pg.Pool({ connectionString, max, ...PG_TIMEOUTS, ...PG_SEARCH_PATH, keepAlive: true });
  pool.on("error", () => {}); // an idle client's connection died; the pool replaces it
  return pool;
}

/**
 * ioredis options for the billing connection: a command waits for a (re)connect at most
 * `commandTimeout`; a command sent before a connection broke is NOT re-sent after the reconnect
 * (ioredis' default would re-send it — an increment whose first delivery was executed would then count
 * twice; the ledger resolves such an op by its id instead).
 */
export const REDIS_OPTIONS = {
  maxRetriesPerRequest: 1,
  commandTimeout: 1000,
  connectTimeout: 2000,
  autoResendUnfulfilledCommands: false,
  retryStrategy: (times: number) => Math.min(times * 200, 2000),
} as const;
