// The users list's totals at scale (docs/users-list-scale.md §3, design point 1): below
// LIVE_LIST_MAX_USERS the list counts live and exactly; above it, a page's total is counted up to
// that bound, and the totals a bounded count cannot give (the unfiltered list, role / status /
// source filters, the page's four counters) come from quota_console.user_list_counts, recounted
// by one instance at a time every RECOUNT_MS. A display figure, never read by enforcement.
import type pg from "pg";

import { LIVE_LIST_MAX_USERS, type UserFilter } from "./list-sql";

type Query = Pick<pg.Pool, "query">;

/** How often the counts are recounted, and how old they may be before a reader ignores them. */
export const RECOUNT_MS = 30_000;
export const COUNTS_MAX_AGE_MS = 4 * RECOUNT_MS;

/** "live": at most LIVE_LIST_MAX_USERS users (exact statements); "keys": more (the list at scale). */
export type ListScale = "live" | "keys";

/**
 * measureListScale's statement (bench/users-page-shapes.ts EXPLAINs it): the active users counted up
 * to LIVE_LIST_MAX_USERS + 1, and whether quota_console.user_quota_keys has been backfilled.
 */
export const LIST_SCALE_QUERY = {
  text: `SELECT (SELECT count(*)::int FROM (SELECT 1 FROM users WHERE deleted_at IS NULL LIMIT $1) c) AS n,
     coalesce((SELECT backfill_after IS NULL FROM quota_console.user_quota_keys_state WHERE name = 'refresher'), false) AS keys`,
  values: [LIVE_LIST_MAX_USERS + 1],
};

/**
 * "keys" (the list at scale) when there are more than LIVE_LIST_MAX_USERS active users and the quota
 * keys are complete (lib/users/quota-keys.ts: backfilled once); otherwise "live" — exact, and slow
 * only on a large installation in the minute after its first start, while the backfill runs.
 * `large`: more than LIVE_LIST_MAX_USERS users, whatever the keys.
 */
export async function measureListScale(pool: Query): Promise<ListScale> {
  return (await measureList(pool)).scale;
}

async function measureList(pool: Query): Promise<{ scale: ListScale; large: boolean }> {
  const { rows } = await pool.query<{ n: number; keys: boolean }>(LIST_SCALE_QUERY);
  const large = rows[0].n > LIVE_LIST_MAX_USERS;
  return { scale: large && rows[0].keys ? "keys" : "live", large };
}

const SCALE_TTL_MS = RECOUNT_MS;
const state = globalThis as unknown as { qcListScale?: { at: number; scale: Promise<ListScale> } };

/**
 * The list's scale, measured at most once per SCALE_TTL_MS per process: an installation that grows
 * past the threshold switches to the statements at scale within 30 s (both give the same rows; only
 * their cost and the totals' freshness differ).
 */
export function listScale(pool: Query, now = Date.now()): Promise<ListScale> {
  const s = state.qcListScale;
  if (s && now - s.at < SCALE_TTL_MS) return s.scale;
  const scale = measureListScale(pool);
  state.qcListScale = { at: now, scale };
  scale.catch(() => (state.qcListScale = undefined)); // measured again after a failure
  return scale;
}

/**
 * Recount every active user by role × status × source, in one transaction, if no other instance is
 * doing it (a transaction-scoped advisory lock). Answers whether this call recounted.
 */
export async function recountUserList(pool: pg.Pool): Promise<boolean> {
  const c = await pool.connect();
  try {
    await c.query("BEGIN");
    const lock = await c.query<{ ok: boolean }>(
      "SELECT pg_try_advisory_xact_lock(hashtext('quota_console.user_list_counts')) AS ok",
    );
    if (!lock.rows[0].ok) {
      await c.query("ROLLBACK");
      return false;
    }
    await c.query("DELETE FROM quota_console.user_list_counts");
    await c.query(
      `INSERT INTO quota_console.user_list_counts (role, status, signup_source, n, counted_at)
       SELECT role, status, signup_source, count(*), now() FROM users WHERE deleted_at IS NULL
       GROUP BY role, status, signup_source`,
    );
    await c.query("COMMIT");
    return true;
  } catch (e) {
    await c.query("ROLLBACK").catch(() => {});
    throw e;
  } finally {
    c.release();
  }
}

/** The filters the counts can answer: none but role, status and source. */
export function countable(f: UserFilter): boolean {
  return !f.q && f.limit !== "1" && f.over80 !== "1";
}

/**
 * The recorded number of users the (countable) filter selects, or null when there are no recent
 * counts (never recounted, or older than COUNTS_MAX_AGE_MS: the recounting instance is gone).
 */
export async function countedUsers(
  pool: Query,
  f: Pick<UserFilter, "role" | "status" | "source">,
): Promise<number | null> {
  const { rows } = await pool.query<{ n: string | null; fresh: boolean }>(countedUsersQuery(f));
  return rows[0].fresh ? Number(rows[0].n ?? 0) : null;
}

/** countedUsers' statement (bench/users-page-shapes.ts EXPLAINs it): a few hundred rows at most. */
export function countedUsersQuery(f: Pick<UserFilter, "role" | "status" | "source">) {
  return {
    text: `SELECT sum(n) FILTER (WHERE ($1 = '' OR role = $1) AND ($2 = '' OR status = $2) AND ($3 = '' OR signup_source = $3)) AS n,
            coalesce(min(counted_at) > now() - make_interval(secs => $4), false) AS fresh
     FROM quota_console.user_list_counts`,
    values: [f.role, f.status, f.source, COUNTS_MAX_AGE_MS / 1000],
  };
}

/** The users page's four counters from the recorded counts, or null without recent ones. */
export async function countedStats(
  pool: Query,
): Promise<{ total: number; admins: number; active: number; disabled: number } | null> {
  const { rows } = await pool.query<{
    total: string;
    admins: string;
    active: string;
    disabled: string;
    fresh: boolean;
  }>(
    `SELECT coalesce(sum(n), 0) AS total,
            coalesce(sum(n) FILTER (WHERE role = 'admin'), 0) AS admins,
            coalesce(sum(n) FILTER (WHERE status = 'active'), 0) AS active,
            coalesce(sum(n) FILTER (WHERE status = 'disabled'), 0) AS disabled,
            coalesce(min(counted_at) > now() - make_interval(secs => $1), false) AS fresh
     FROM quota_console.user_list_counts`,
    [COUNTS_MAX_AGE_MS / 1000],
  );
  const r = rows[0];
  if (!r.fresh) return null;
  return { total: Number(r.total), admins: Number(r.admins), active: Number(r.active), disabled: Number(r.disabled) };
}

/** Every RECOUNT_MS, the counts are recounted while the list is at scale (one instance at a time). */
export class UserListCounter {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;

  constructor(private readonly pool: pg.Pool) {}

  /** One recount if the list is at scale; errors are logged, the next tick tries again. */
  tick(): Promise<void> {
    this.running ??= (async () => {
      try {
        if ((await measureList(this.pool)).large) await recountUserList(this.pool);
      } catch (e) {
        console.error("[user-list-counts] recount failed", e);
      } finally {
        this.running = null;
      }
    })();
    return this.running;
  }

  start(intervalMs = RECOUNT_MS): void {
    if (this.timer) return;
    void this.tick();
    this.timer = setInterval(() => void this.tick(), intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}
