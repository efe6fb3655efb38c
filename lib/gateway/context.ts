import type pg from "pg";

/**
 * The gateway's context the console shows beside its own data (issue 12): a user's active
 * subscription (the quota modal's amber warning, spec §8.4) and a user's groups (the users list).
 * Read-only, from the gateway's tables in `public` (docs/gateway/schema.md §1.6, §1.8, §1.9). (Whether
 * the gateway's registration is open is lib/settings/registration.ts.) A standalone database normally has
 * none of these tables (the console creates only users, settings and user_platform_quotas), and a
 * least-privilege role may lack the column grants (docs/attached-grants.sql): each reader then
 * reports "nothing" — no warning, no groups — instead of failing the page. Presence and privileges
 * are looked up in the catalog first (one small query).
 */
type Queryable = Pick<pg.Pool, "query">;

/**
 * Which of the tables exist in `public` with every listed column readable by this role (a
 * least-privilege console role gets column grants, docs/attached-grants.sql). A table that is
 * missing, lacks a column or is not readable counts as absent: the reader then shows nothing rather
 * than failing the page.
 */
async function readable(db: Queryable, need: Record<string, readonly string[]>): Promise<Set<string>> {
  const pairs = Object.entries(need).flatMap(([t, cols]) => cols.map((c) => [t, c] as const));
  const { rows } = await db.query<{ t: string }>(
    `SELECT r.t FROM unnest($1::text[], $2::text[]) AS r(t, col)
       JOIN pg_class c ON c.relname = r.t AND c.relkind IN ('r', 'p')
       JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = r.col AND a.attnum > 0 AND NOT a.attisdropped
      WHERE has_column_privilege(c.oid, a.attnum, 'SELECT')
      GROUP BY r.t
     HAVING count(*) = (SELECT count(*) FROM unnest($1::text[]) AS x(t) WHERE x.t = r.t)`,
    [pairs.map((p) => p[0]), pairs.map((p) => p[1])],
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
  const have = await readable(db, { user_subscriptions: ["user_id", "status", "deleted_at"] });
  if (!have.has("user_subscriptions")) return false;
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
  const t = await readable(db, {
    user_allowed_groups: ["user_id", "group_id"],
    groups: ["id", "name", "is_exclusive", "sort_order", "deleted_at"],
  });
  return t.has("user_allowed_groups") && t.has("groups");
}
