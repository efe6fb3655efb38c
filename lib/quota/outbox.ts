import type Redis from "ioredis";
import type pg from "pg";

/**
 * Cache invalidation that cannot be lost (DESIGN §3.4). An admin change writes the Redis keys to
 * delete into `cache_invalidation_outbox` in its own transaction; right after the commit the keys
 * are deleted; a background worker deletes every key once more a few seconds later (closing the
 * race where a gateway that loaded the old row just before the commit writes it back) and keeps
 * retrying, with backoff, while Redis is unreachable. A key leaves the outbox only after Redis
 * confirmed the DEL.
 */
export const SECOND_DELETE_DELAY_MS = 5000;
const MAX_BACKOFF_S = 60;

type Queryable = Pick<pg.PoolClient, "query">;

/** Inside the change's transaction: remember the keys (first worker pass after the delay). */
export async function enqueueInvalidations(client: Queryable, keys: string[]): Promise<number[]> {
  if (keys.length === 0) return [];
  const { rows } = await client.query<{ id: string }>(
    `INSERT INTO cache_invalidation_outbox (cache_key, next_attempt_at)
     SELECT k, now() + make_interval(secs => $2::float8 / 1000) FROM unnest($1::text[]) AS k RETURNING id`,
    [keys, SECOND_DELETE_DELAY_MS],
  );
  return rows.map((r) => Number(r.id));
}

/** After the commit: delete the keys now. Returns whether Redis confirmed; never throws. */
export async function deleteNow(redis: Redis | null, pool: Pick<pg.Pool, "query">, ids: number[], keys: string[]): Promise<boolean> {
  if (!redis || keys.length === 0) return false;
  try {
    await redis.del(...keys);
    await pool.query("UPDATE cache_invalidation_outbox SET first_deleted_at = now() WHERE id = ANY($1::bigint[])", [ids]);
    return true;
  } catch (e) {
    await pool
      .query("UPDATE cache_invalidation_outbox SET attempts = attempts + 1, last_error = $2, next_attempt_at = now() WHERE id = ANY($1::bigint[])", [
        ids,
        String(e).slice(0, 500),
      ])
      .catch(() => {});
    console.error(`ALERT cache invalidation failed for ${keys.length} key(s); queued for retry`, String(e));
    return false;
  }
}

/** One worker pass: delete due keys; on success drop their rows, on failure back off. */
export async function processOutbox(redis: Redis | null, pool: pg.Pool, limit = 500): Promise<{ deleted: number; failed: number }> {
  if (!redis) return { deleted: 0, failed: 0 };
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const { rows } = await client.query<{ id: string; cache_key: string }>(
      `SELECT id, cache_key FROM cache_invalidation_outbox WHERE next_attempt_at <= now()
       ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
      [limit],
    );
    if (rows.length === 0) {
      await client.query("COMMIT");
      return { deleted: 0, failed: 0 };
    }
    const ids = rows.map((r) => r.id);
    try {
      await redis.del(...new Set(rows.map((r) => r.cache_key)));
      await client.query("DELETE FROM cache_invalidation_outbox WHERE id = ANY($1::bigint[])", [ids]);
      await client.query("COMMIT");
      return { deleted: rows.length, failed: 0 };
    } catch (e) {
      await client.query(
        `UPDATE cache_invalidation_outbox SET attempts = attempts + 1, last_error = $2,
           next_attempt_at = now() + make_interval(secs => least(power(2, attempts), $3))
         WHERE id = ANY($1::bigint[])`,
        [ids, String(e).slice(0, 500), MAX_BACKOFF_S],
      );
      await client.query("COMMIT");
      return { deleted: 0, failed: rows.length };
    }
  } catch (e) {
    await client.query("ROLLBACK").catch(() => {});
    throw e;
  } finally {
    client.release();
  }
}

/** Keys whose deletion Redis has not confirmed yet (optionally only those starting with a prefix). */
export async function pendingInvalidations(pool: Pick<pg.Pool, "query">, keyPrefix?: string): Promise<{ count: number; oldestSeconds: number | null }> {
  const { rows } = await pool.query<{ n: number; oldest: number | null }>(
    `SELECT count(*)::int AS n, extract(epoch FROM now() - min(created_at))::float8 AS oldest
     FROM cache_invalidation_outbox WHERE first_deleted_at IS NULL AND ($1::text IS NULL OR starts_with(cache_key, $1::text))`,
    [keyPrefix ?? null],
  );
  return { count: rows[0].n, oldestSeconds: rows[0].oldest === null ? null : Math.round(rows[0].oldest) };
}

/** Run processOutbox every interval until the returned stop() is called. */
export function startOutboxWorker(deps: { redis: Redis | null; pool: pg.Pool }, intervalMs = 2000): () => Promise<void> {
  let stopped = false;
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    running = running.then(async () => {
      if (stopped) return;
      for (let i = 0; i < 20; i++) {
        const r = await processOutbox(deps.redis, deps.pool).catch((e) => {
          console.error("cache invalidation worker error", String(e));
          return { deleted: 0, failed: 0 };
        });
        if (r.deleted < 500) break;
      }
    });
  }, intervalMs);
  timer.unref();
  return async () => {
    stopped = true;
    clearInterval(timer);
    await running;
  };
}
