import "server-only";

import { env } from "@/lib/config/env";
import { pgPool } from "@/lib/db/client";

import type { SessionUser } from "./session";
import { lookupSession } from "./session-cache";
import { hashSessionToken, verifySessionCookie } from "./token";

/** `__Host-` binds the cookie to this origin and path (only allowed with Secure). */
export function sessionCookieName(): string {
  return env().cookieSecure ? "__Host-qc_session" : "qc_session";
}

/**
 * The signed-in user a session cookie's value presents, or null: the cookie's HMAC is verified,
 * then the token's hash is looked up (lib/auth/session-cache.ts: at most SESSION_CACHE_TTL_MS old).
 * A bad MAC, an expired or revoked session, and a disabled or deleted user all read as null. The
 * one check behind getSessionUser (pages, actions, route handlers) and the quota read's fast path
 * (lib/api/fast-path.ts), which has no Next request to call cookies() on.
 */
export async function userOfSessionCookie(raw: string | undefined): Promise<SessionUser | null> {
  const token = verifySessionCookie(raw, env().sessionSecret);
  if (!token) return null;
  return lookupSession(pgPool(), hashSessionToken(token));
}
