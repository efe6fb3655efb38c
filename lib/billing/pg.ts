import type pg from "pg";

/**
 * The one transaction helper (code-shape review §4.2) and the client checkout under it. It lives in
 * lib/billing because the library must not depend on the app; the app imports it as
 * `@/lib/db/transaction`. The exactly-once increment protocol (usage-writes.ts) does NOT use it: its
 * BEGIN travels in one simple query with the write, on purpose.
 */

/**
 * pool.connect() with an error listener for as long as the client is checked out: a connection reset
 * while a query runs (a cut network, a restarted server) is then that query's error, not an unhandled
 * 'error' event that takes the process down. The listener goes with the client on release.
 */
export async function checkout(pool: Pick<pg.Pool, "connect">): Promise<pg.PoolClient> {
  const client = await pool.connect();
  const ignore = () => {};
  client.on("error", ignore);
  const release = client.release.bind(client);
  client.release = (err?: Error | boolean) => {
    client.removeListener("error", ignore);
    client.release = release;
    return release(err);
  };
  return client;
}

/** What a transaction body returns to roll back instead of committing; `value` is the caller's result. */
export class Rollback<R> {
  constructor(readonly value: R) {}
}

/** `return rollback(x)` from a transaction body: ROLLBACK, and withTransaction resolves to x. */
export function rollback<R>(value: R): Rollback<R> {
  return new Rollback(value);
}

/**
 * Run `fn` in a transaction on its own pool client: BEGIN, then COMMIT when `fn` returns a value, or
 * ROLLBACK when it returns `rollback(value)` (a refusal the caller answers: a conflict, a taken
 * address) or throws (the error is rethrown). Either way the result is the value itself, so a body
 * can return a discriminated union whose failure arms roll back. A client whose ROLLBACK fails is
 * destroyed rather than returned to the pool.
 */
export async function withTransaction<T>(
  pool: Pick<pg.Pool, "connect">,
  fn: (client: pg.PoolClient) => Promise<T | Rollback<T>>,
): Promise<T> {
  const client = await checkout(pool);
  let broken = false;
  try {
    await client.query("BEGIN");
    const out = await fn(client);
    if (out instanceof Rollback) {
      await client.query("ROLLBACK");
      return out.value;
    }
    await client.query("COMMIT");
    return out;
  } catch (e) {
    await client.query("ROLLBACK").catch(() => {
      broken = true;
    });
    throw e;
  } finally {
    client.release(broken);
  }
}
