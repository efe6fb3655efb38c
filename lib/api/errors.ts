/**
 * Which thrown errors mean "a backend is unavailable" (the request may succeed if retried in a
 * moment → 503) rather than a bug (→ 500). Recognises the errors pg, Prisma's pg driver adapter
 * and ioredis actually throw when PostgreSQL or Redis is down, hung, restarting or overloaded
 * (tests/unit/api-route.test.ts and tests/integration/metrics.test.ts build real ones):
 *
 * - socket errors: ECONNREFUSED, ECONNRESET, ETIMEDOUT, EPIPE, ENOTFOUND, EAI_AGAIN, EHOST/ENETUNREACH
 * - pg without a code: "timeout exceeded when trying to connect" (pool full), "Connection terminated
 *   due to connection timeout" / "…unexpectedly" (hung or killed server), "Query read timeout"
 *   (query_timeout), "…not queryable" (a client whose connection broke)
 * - SQLSTATE class 08 (connection exception), 57P0x (server shutting down, database dropped,
 *   idle-session timeout), 57014 (statement_timeout), 53300 (too many connections), 25P03
 *   (idle-in-transaction timeout) — on a pg DatabaseError or inside Prisma's
 *   `meta.driverAdapterError.cause`
 * - Prisma: P1001 / P1002 (server unreachable), P1008 (operation timed out), P1017 (server closed
 *   the connection), P2024 (pool timeout), P2037 (too many connections), and the adapter's kinds
 *   DatabaseNotReachable / ConnectionClosed / SocketTimeout / TooManyConnections
 * - ioredis: "Command timed out", MaxRetriesPerRequestError, "Connection is closed.", a disabled
 *   offline queue while disconnected
 * - a `TimeoutError` (AbortSignal.timeout) and lib/billing's BillingServiceError (fail-closed outage)
 *
 * Causes are followed (`cause`, AggregateError's `errors`, Prisma's driver-adapter error), so a
 * wrapped connection error is still recognised. No dependency on Next, pg or ioredis.
 */
const SOCKET_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENETDOWN",
  "EHOSTDOWN",
  "ECONNABORTED",
]);
const PRISMA_CODES = new Set(["P1001", "P1002", "P1008", "P1017", "P2024", "P2037"]);
const ADAPTER_KINDS = new Set(["DatabaseNotReachable", "ConnectionClosed", "SocketTimeout", "TooManyConnections"]);
const NAMES = new Set(["TimeoutError", "MaxRetriesPerRequestError", "BillingServiceError"]);
const MESSAGES = [
  /timeout exceeded when trying to connect/i,
  /Connection terminated/i,
  /Query read timeout/i,
  /is not queryable/i,
  /Can't reach database server/i,
  /Timed out fetching a new connection from the connection pool/i,
  /^Command timed out$/i,
  /^Connection is closed\.?$/i,
  /enableOfflineQueue options is false/i,
  /Reached the max retries per request limit/i,
];

function isUnavailableSqlState(code: string): boolean {
  return (
    /^08[0-9A-Z]{3}$/.test(code) || /^57P0\d$/.test(code) || code === "57014" || code === "53300" || code === "25P03"
  );
}

function matches(node: Record<string, unknown>): boolean {
  if (typeof node.name === "string" && NAMES.has(node.name)) return true;
  for (const key of ["code", "errorCode", "originalCode"]) {
    const code = node[key];
    if (typeof code !== "string") continue;
    if (SOCKET_CODES.has(code) || PRISMA_CODES.has(code) || isUnavailableSqlState(code)) return true;
  }
  if (typeof node.kind === "string" && ADAPTER_KINDS.has(node.kind)) return true;
  return typeof node.message === "string" && MESSAGES.some((re) => re.test(node.message as string));
}

/** True when `e` (or anything it wraps) says PostgreSQL or Redis is unreachable, hung or overloaded. */
export function isBackendUnavailable(e: unknown): boolean {
  const queue: unknown[] = [e];
  const seen = new Set<unknown>();
  while (queue.length && seen.size < 32) {
    const node = queue.shift();
    if (typeof node !== "object" || node === null || seen.has(node)) continue;
    seen.add(node);
    const o = node as Record<string, unknown>;
    if (matches(o)) return true;
    queue.push(o.cause);
    if (Array.isArray(o.errors)) queue.push(...o.errors);
    const adapterError = (o.meta as { driverAdapterError?: unknown } | undefined)?.driverAdapterError;
    if (adapterError) queue.push(adapterError);
  }
  return false;
}
