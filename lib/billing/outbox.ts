import type pg from "pg";

/**
 * The transactional outbox of Redis work that must follow a PostgreSQL commit (DESIGN §3.4,
 * docs/consistency.md). A row is written in the same transaction as the change it belongs to; right
 * after the commit the work is attempted once ("first pass"); a background worker does every row
 * again once it is due (the "second pass", which closes the race with a gateway that loaded the old
 * row just before the commit and writes it back) and keeps retrying, with backoff, while Redis is
 * unreachable. A row leaves the outbox only after its work succeeded.
 *
 * Kinds (the handler for each lives with the ledger, lib/billing/repairer.ts):
 *   del     drop the key (direct mode: PostgreSQL has everything)           — first pass + second pass
 *   admin   apply an admin change in place (flusher mode): payload.op is
 *           "limits" | "reset" | "replace"; the second pass re-applies limits — first pass + second pass
 *   cancel  a usage op's Redis reply was lost (direct mode): cancel it if
 *           never seen, and drop the key                                    — one pass
 *   replay  a usage op could not reach Redis (flusher mode): apply it there  — one pass
 */
export const SECOND_PASS_DELAY_MS = 5000;
const MAX_BACKOFF_S = 30;

export type OutboxKind = "del" | "admin" | "cancel" | "replay";
export type OutboxItem = { cacheKey: string; kind: OutboxKind; payload?: unknown; delayMs?: number };
export type OutboxRow = {
  id: number;
  cacheKey: string;
  kind: OutboxKind;
  payload: unknown;
  firstPassDone: boolean;
  attempts: number;
};

type Queryable = Pick<pg.PoolClient, "query">;

/** Inside the change's transaction: remember the work. Rows are due after their delay (default: the second-pass delay). */
export async function enqueueOutbox(client: Queryable, items: OutboxItem[]): Promise<number[]> {
  if (items.length === 0) return [];
  const { rows } = await client.query<{ id: string }>(
    `INSERT INTO cache_invalidation_outbox (cache_key, kind, payload, next_attempt_at)
     SELECT k, kd, p, now() + make_interval(secs => d / 1000)
     FROM unnest($1::text[], $2::text[], $3::jsonb[], $4::float8[]) AS t(k, kd, p, d) RETURNING id`,
    [
      items.map((i) => i.cacheKey),
      items.map((i) => i.kind),
      items.map((i) => (i.payload === undefined ? null : JSON.stringify(i.payload))),
      items.map((i) => i.delayMs ?? SECOND_PASS_DELAY_MS),
    ],
  );
  return rows.map((r) => Number(r.id));
}

/** After the commit: the first pass succeeded for these rows (single-pass kinds are deleted). */
export async function markFirstPass(pool: Pick<pg.Pool, "query">, ids: number[]): Promise<void> {
  if (ids.length === 0) return;
  await pool.query(
    `WITH done AS (DELETE FROM cache_invalidation_outbox WHERE id = ANY($1::bigint[]) AND kind IN ('cancel', 'replay') RETURNING id)
     UPDATE cache_invalidation_outbox SET first_deleted_at = now() WHERE id = ANY($1::bigint[]) AND id NOT IN (SELECT id FROM done)`,
    [ids],
  );
}

/** After the commit: the first pass failed — make the rows due now and count the attempt. */
export async function markFirstPassFailed(pool: Pick<pg.Pool, "query">, ids: number[], error: unknown): Promise<void> {
  if (ids.length === 0) return;
  await pool.query(
    "UPDATE cache_invalidation_outbox SET attempts = attempts + 1, last_error = $2, next_attempt_at = now() WHERE id = ANY($1::bigint[])",
    [ids, String(error).slice(0, 500)],
  );
}

/** The Redis work of one row; "again" asks for the second pass (SECOND_PASS_DELAY_MS later). */
export type OutboxHandler = (row: OutboxRow) => Promise<void | "again">;

/**
 * One worker pass: claim up to `limit` due rows for `claimMs` (one UPDATE … FOR UPDATE SKIP LOCKED, so
 * several workers share the work and a worker that dies just lets the claim run out), run each through
 * `handle` outside any transaction (a handler may write PostgreSQL itself — on the embedded PGlite an
 * open transaction would hold every other connection), then delete the rows whose handler succeeded
 * and back off the others (2^attempts s, at most 30 s). Rows are handled in id order; the first
 * failure ends the pass (the rest are released untried), so the rows of a key keep their order.
 */
export async function processOutbox(
  pool: Pick<pg.Pool, "query">,
  handle: OutboxHandler,
  limit = 200,
  claimMs = 30_000,
): Promise<{ done: number; failed: number }> {
  const { rows } = await pool.query<{
    id: string;
    cache_key: string;
    kind: OutboxKind;
    payload: unknown;
    first_deleted_at: Date | null;
    attempts: number;
  }>(
    `UPDATE cache_invalidation_outbox o SET next_attempt_at = now() + make_interval(secs => $2::float8 / 1000)
     WHERE o.id IN (SELECT id FROM cache_invalidation_outbox WHERE next_attempt_at <= now() ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
     RETURNING o.id, o.cache_key, o.kind, o.payload, o.first_deleted_at, o.attempts`,
    [limit, claimMs],
  );
  rows.sort((a, b) => Number(a.id) - Number(b.id));
  const done: string[] = [];
  const again: string[] = [];
  const failed: Array<{ id: string; error: string }> = [];
  const untried: string[] = [];
  for (const r of rows) {
    // After a failure Redis is most likely unreachable: release the rest untried (no attempt
    // counted) instead of waiting out a timeout per row.
    if (failed.length > 0) {
      untried.push(r.id);
      continue;
    }
    try {
      const result = await handle({
        id: Number(r.id),
        cacheKey: r.cache_key,
        kind: r.kind,
        payload: r.payload,
        firstPassDone: r.first_deleted_at !== null,
        attempts: r.attempts,
      });
      (result === "again" ? again : done).push(r.id);
    } catch (e) {
      failed.push({ id: r.id, error: String(e).slice(0, 500) });
    }
  }
  if (untried.length) {
    await pool.query(
      "UPDATE cache_invalidation_outbox SET next_attempt_at = now() + interval '1 second' WHERE id = ANY($1::bigint[])",
      [untried],
    );
  }
  if (done.length) await pool.query("DELETE FROM cache_invalidation_outbox WHERE id = ANY($1::bigint[])", [done]);
  if (again.length) {
    await pool.query(
      `UPDATE cache_invalidation_outbox SET first_deleted_at = now(), next_attempt_at = now() + make_interval(secs => $2::float8 / 1000)
       WHERE id = ANY($1::bigint[])`,
      [again, SECOND_PASS_DELAY_MS],
    );
  }
  if (failed.length) {
    await pool.query(
      `UPDATE cache_invalidation_outbox o SET attempts = o.attempts + 1, last_error = f.e,
         next_attempt_at = now() + make_interval(secs => least(power(2, o.attempts), $2))
       FROM unnest($1::bigint[], $3::text[]) AS f(id, e) WHERE o.id = f.id`,
      [failed.map((f) => f.id), MAX_BACKOFF_S, failed.map((f) => f.error)],
    );
  }
  return { done: done.length + again.length, failed: failed.length };
}

/** Make every pending row due now (Redis just came back: no need to wait out the backoff). */
export async function expediteOutbox(pool: Pick<pg.Pool, "query">): Promise<void> {
  await pool.query(
    "UPDATE cache_invalidation_outbox SET next_attempt_at = now() WHERE attempts > 0 AND next_attempt_at > now()",
  );
}

/** Rows whose first pass has not succeeded yet (optionally only keys starting with a prefix), and the oldest's age. */
export async function pendingInvalidations(
  pool: Pick<pg.Pool, "query">,
  keyPrefix?: string,
): Promise<{ count: number; oldestSeconds: number | null }> {
  const { rows } = await pool.query<{ n: number; oldest: number | null }>(
    `SELECT count(*)::int AS n, extract(epoch FROM now() - min(created_at))::float8 AS oldest
     FROM cache_invalidation_outbox WHERE first_deleted_at IS NULL AND ($1::text IS NULL OR starts_with(cache_key, $1::text))`,
    [keyPrefix ?? null],
  );
  return { count: rows[0].n, oldestSeconds: rows[0].oldest === null ? null : Math.round(rows[0].oldest) };
}

/** Every row still in the outbox (second passes included): the backlog /api/health reports. */
export async function outboxBacklog(
  pool: Pick<pg.Pool, "query">,
): Promise<{ rows: number; overdue: number; oldestSeconds: number | null }> {
  const { rows } = await pool.query<{ n: number; overdue: number; oldest: number | null }>(
    `SELECT count(*)::int AS n, count(*) FILTER (WHERE next_attempt_at < now() - interval '10 seconds')::int AS overdue,
            extract(epoch FROM now() - min(created_at))::float8 AS oldest FROM cache_invalidation_outbox`,
  );
  return {
    rows: rows[0].n,
    overdue: rows[0].overdue,
    oldestSeconds: rows[0].oldest === null ? null : Math.round(rows[0].oldest),
  };
}
