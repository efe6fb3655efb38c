import "server-only";

import { cookies } from "next/headers";
import { cache } from "react";

import { env } from "@/lib/config/env";
import { db } from "@/lib/db/client";

import { forgetSession } from "./session-cache";
import { sessionCookieName, userOfSessionCookie } from "./session-cookie";
import { hashSessionToken, newSessionToken, signSessionToken, verifySessionCookie } from "./token";

export type Role = "admin" | "user";

/** What a page or action knows about the signed-in user. Never contains secrets. */
export type SessionUser = {
  id: number;
  email: string;
  username: string | null;
  role: Role;
};

export { sessionCookieName };

/** Create a session row and set the cookie (httpOnly, SameSite=Lax, Secure in production). */
export async function createSession(userId: bigint, meta: { ip: string | null; userAgent: string | null }) {
  const { SESSION_TTL_HOURS, sessionSecret, cookieSecure } = env();
  const token = newSessionToken();
  const expiresAt = new Date(Date.now() + SESSION_TTL_HOURS * 3600_000);
  await db().session.create({
    data: {
      tokenHash: hashSessionToken(token),
      userId,
      expiresAt,
      ip: meta.ip?.slice(0, 64) ?? null,
      userAgent: meta.userAgent?.slice(0, 255) ?? null,
    },
  });
  (await cookies()).set(sessionCookieName(), signSessionToken(token, sessionSecret), {
    httpOnly: true,
    sameSite: "lax",
    secure: cookieSecure,
    path: "/",
    expires: expiresAt,
  });
}

/**
 * The signed-in user of this request, or null. A cookie with a bad MAC, an expired or revoked
 * session, and a disabled or deleted user all read as "not signed in". Cached per request, and
 * across requests for at most SESSION_CACHE_TTL_MS (lib/auth/session-cache.ts states the bound).
 */
export const getSessionUser = cache(async (): Promise<SessionUser | null> =>
  userOfSessionCookie((await cookies()).get(sessionCookieName())?.value),
);

/**
 * Revoke this request's session (row and cookie). The cookie is expired with the attributes it
 * was set with: a browser ignores a `__Host-` Set-Cookie without `Secure`, and would keep the
 * (dead) cookie if it were deleted with a bare `Expires`.
 */
export async function destroySession() {
  const jar = await cookies();
  const { sessionSecret, cookieSecure } = env();
  const token = verifySessionCookie(jar.get(sessionCookieName())?.value, sessionSecret);
  if (token) {
    const tokenHash = hashSessionToken(token);
    await db().session.deleteMany({ where: { tokenHash } });
    forgetSession(tokenHash);
  }
  jar.set(sessionCookieName(), "", {
    httpOnly: true,
    sameSite: "lax",
    secure: cookieSecure,
    path: "/",
    maxAge: 0,
    expires: new Date(0),
  });
}

/** The stored form (SHA-256) of this request's session token, or null: lets a change keep exactly this session. */
export async function currentSessionTokenHash(): Promise<string | null> {
  const token = verifySessionCookie((await cookies()).get(sessionCookieName())?.value, env().sessionSecret);
  return token ? hashSessionToken(token) : null;
}
