import { randomBytes } from "node:crypto";
import type pg from "pg";

import { hashSessionToken, newSessionToken, signSessionToken } from "@/lib/auth/token";

/** sessionCookieName() in production (NODE_ENV=production, COOKIE_SECURE unset): a __Host- cookie. */
export const SESSION_COOKIE = "__Host-qc_session";

/** A fresh SESSION_SECRET for a server this run starts. */
export const newSessionSecret = () => randomBytes(32).toString("hex");

/**
 * A real session row for `userId`, as createSession() writes it (lib/auth/token.ts: a random token,
 * its hash in console_sessions, the token signed with the server's secret in the cookie), and the
 * Cookie header that presents it.
 */
export async function sessionCookie(
  db: Pick<pg.Pool, "query">,
  userId: number | string,
  secret: string,
  ttl = "1 day",
): Promise<string> {
  const token = newSessionToken();
  await db.query(
    "INSERT INTO console_sessions (token_hash, user_id, expires_at) VALUES ($1, $2, now() + $3::interval)",
    [hashSessionToken(token), userId, ttl],
  );
  return `${SESSION_COOKIE}=${signSessionToken(token, secret)}`;
}
