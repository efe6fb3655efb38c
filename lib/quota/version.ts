import "server-only";

import type pg from "pg";

/**
 * The version of one user's platform quotas, for the modal's optimistic concurrency (like the
 * Settings save's `version`): the modal sends the version it loaded, and a save made from anything
 * older is refused with CONFLICT — nothing written, nothing audited.
 *
 * The token is `<counter>.<hash>`:
 *   counter  console_quota_versions.version, bumped by every console save and window reset in its
 *            transaction under the user's row lock — exact: two saves in the same millisecond, a
 *            save that restores the old values, a reset that does not move the window start all
 *            give a new version;
 *   hash     md5 of the active rows' ids, platforms and limits (numeric text, not float) — so a
 *            limit changed outside the console (the Go gateway's own admin API, a tool, SQL) also
 *            makes a stale save conflict. Usage and window starts are left out: the gateway moves
 *            them on every request and at every rollover, and a save keeps them anyway.
 */
type Queryable = Pick<pg.PoolClient, "query">;

export async function readQuotaVersion(client: Queryable, userId: number): Promise<string> {
  const { rows } = await client.query<{ counter: string; hash: string }>(
    `SELECT coalesce((SELECT version FROM console_quota_versions WHERE user_id = $1), 0)::text AS counter,
            md5(coalesce(string_agg(
              id::text || ':' || platform || ':' || coalesce(daily_limit_usd::text, '-') || ':' ||
              coalesce(weekly_limit_usd::text, '-') || ':' || coalesce(monthly_limit_usd::text, '-'),
              ',' ORDER BY id), '')) AS hash
     FROM user_platform_quotas WHERE user_id = $1 AND deleted_at IS NULL`,
    [userId],
  );
  return `${rows[0].counter}.${rows[0].hash}`;
}

/** Move the counter on; call inside the change's transaction, after the user row is locked. */
export async function bumpQuotaVersion(client: Queryable, userId: number): Promise<void> {
  await client.query(
    `INSERT INTO console_quota_versions (user_id, version, updated_at) VALUES ($1, 1, now())
     ON CONFLICT (user_id) DO UPDATE SET version = console_quota_versions.version + 1, updated_at = now()`,
    [userId],
  );
}
