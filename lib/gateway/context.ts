import type pg from "pg";

/**
 * The gateway's context the console shows beside its own data (issue 12): a user's active
 * subscription (the quota modal's amber warning, spec §8.4) and a user's groups (the users list).
 * Read-only, from the gateway's tables in `public` (docs/gateway/schema.md §1.6, §1.8, §1.9). (Whether
 * the gateway's registration is open is lib/settings/registration.ts.) A standalone database normally has
 * none of these tables (the console creates only users, settings and user_platform_quotas): each
 * reader then reports "nothing" — no warning, no groups — instead of failing the page. The tables'
 * presence is looked up in the catalog on every call (one indexed lookup), so a table created later
 * is picked up without a restart.
 */
type Queryable = Pick<pg.Pool, "query">;

/** Which of `tables` exist in `public` (regular or partitioned tables). */
async function existing(db: Queryable, tables: string[]): Promise<Set<string>> {
  const { rows } = await db.query<{ t: string }>(
    `SELECT c.relname AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relname = ANY($1::text[]) AND c.relkind IN ('r', 'p')`,
    [tables],
  );
  return new Set(rows.map((r) => r.t));
}

/**
 * Spec §8.4: the modal warns when "the user has any subscription with status === 'active'" — the
 * gateway's admin API lists the user's subscriptions that are not soft-deleted (ent's soft-delete
 * mixin), and its banner tests only `status`. So: a `user_subscriptions` row of the user with
 * `status = 'active' AND deleted_at IS NULL` (index idx_user_subscriptions_user_status_expires_active).
 * `expires_at` is not consulted, exactly as the gateway's banner does not (its expiry job moves the
 * status). false when the table does not exist (standalone).
 */
export async function hasActiveSubscription(db: Queryable, userId: number): Promise<boolean> {
  if (!(await existing(db, ["user_subscriptions"])).has("user_subscriptions")) return false;
  const { rows } = await db.query<{ active: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM public.user_subscriptions
                     WHERE user_id = $1 AND status = 'active' AND deleted_at IS NULL) AS active`,
    [userId],
  );
  return rows[0].active;
}

export type UserGroup = { id: number; name: string; exclusive: boolean };

/**
 * Each user's groups as a column of the users page's ONE statement (lib/users/list-sql.ts; never a
 * query per user): schema.md §1.9 `user_allowed_groups`, the groups a user may bind keys to (an
 * exclusive group needs the row), live groups only, in the gateway's sort order then by name —
 * JSON `[{ id, name, exclusive }]`, `[]` for none. Correlated on `p.id`, the page's row; index
 * user_allowed_groups_pkey (user_id, group_id). Only where both tables exist (groupsAvailable).
 */
export const USER_GROUPS_COLUMN = `COALESCE((SELECT json_agg(json_build_object('id', g.id, 'name', g.name,
           'exclusive', g.is_exclusive) ORDER BY g.sort_order, g.name, g.id)
         FROM public.user_allowed_groups ug JOIN public.groups g ON g.id = ug.group_id AND g.deleted_at IS NULL
         WHERE ug.user_id = p.id), '[]'::json) AS groups`;

/**
 * Whether the gateway's user_allowed_groups and groups exist in `public` (attached: the gateway's
 * own; a standalone database normally has neither, and the users list then has no groups column).
 */
export async function groupsAvailable(db: Queryable): Promise<boolean> {
  const t = await existing(db, ["user_allowed_groups", "groups"]);
  return t.has("user_allowed_groups") && t.has("groups");
}
