import type pg from "pg";

import type { SessionUser } from "./session";

/**
 * The session lookup behind getSessionUser(): one plain SQL query (session row joined to its user,
 * no ORM on the request path), with its positive answers kept in process for at most
 * SESSION_CACHE_TTL_MS. Every request still verifies the cookie's HMAC and hashes the token before
 * it gets here; the cache is keyed by that hash, so only a cookie that was valid moments ago can hit.
 *
 * The bound: a session revoked, expired, or whose user was disabled, deleted or changed role
 * elsewhere (another console instance, the gateway's admin, SQL) stops working here within
 * SESSION_CACHE_TTL_MS. A change made by this process (sign-out, disable, role change) drops the
 * entries at once (forgetSession / forgetUserSessions). Expiry is re-checked on every hit, so a
 * session never outlives its expires_at. Misses and "not signed in" are never cached.
 */
export const SESSION_CACHE_TTL_MS = 2_000;
/** Entries kept at most (oldest dropped first): bounded memory whatever the traffic. */
export const SESSION_CACHE_MAX = 10_000;

type Entry = { user: SessionUser; expiresAt: number; loadedAt: number };

/** One cache per process (globalThis): route handlers, pages and actions are separate bundles. */
const g = globalThis as unknown as { qcSessionCache?: Map<string, Entry> };
const cache = (g.qcSessionCache ??= new Map<string, Entry>());

const SESSION_SQL = `SELECT s.expires_at, u.id, u.email, u.username, u.role, u.status, u.deleted_at
  FROM quota_console.console_sessions s JOIN public.users u ON u.id = s.user_id
  WHERE s.token_hash = $1`;

type SessionRow = {
  expires_at: Date;
  id: string;
  email: string;
  username: string | null;
  role: string;
  status: string;
  deleted_at: Date | null;
};

/**
 * The signed-in user of a verified session token's hash, or null (no such session, expired, or
 * its user disabled / deleted). `now` is the instant to judge expiry and cache age at.
 */
export async function lookupSession(
  pool: Pick<pg.Pool, "query">,
  tokenHash: string,
  now: number = Date.now(),
): Promise<SessionUser | null> {
  const hit = cache.get(tokenHash);
  if (hit) {
    if (now - hit.loadedAt < SESSION_CACHE_TTL_MS && now >= hit.loadedAt && hit.expiresAt > now) return hit.user;
    cache.delete(tokenHash);
  }
  const { rows } = await pool.query<SessionRow>(SESSION_SQL, [tokenHash]);
  const row = rows[0];
  if (!row || row.expires_at.getTime() <= now || row.status !== "active" || row.deleted_at) return null;
  const user: SessionUser = {
    id: Number(row.id),
    email: row.email,
    username: row.username,
    role: row.role === "admin" ? "admin" : "user",
  };
  if (cache.size >= SESSION_CACHE_MAX) evict(now);
  cache.set(tokenHash, { user, expiresAt: row.expires_at.getTime(), loadedAt: now });
  return user;
}

/** Drops the stale entries, then (still full) the oldest ones: Map keeps insertion order. */
function evict(now: number) {
  for (const [k, e] of cache) if (now - e.loadedAt >= SESSION_CACHE_TTL_MS) cache.delete(k);
  for (const k of cache.keys()) {
    if (cache.size < SESSION_CACHE_MAX) break;
    cache.delete(k);
  }
}

/** This session was ended here (sign-out): no request in this process sees it again. */
export function forgetSession(tokenHash: string): void {
  cache.delete(tokenHash);
}

/** This user's status or role changed here: every cached session of theirs is read afresh. */
export function forgetUserSessions(userId: number): void {
  for (const [k, e] of cache) if (e.user.id === userId) cache.delete(k);
}
