import { hashSessionToken, newSessionToken, signSessionToken } from "@/lib/auth/token";

import { rawDb } from "./db";
import { testEnv } from "./test-env";

/** The production cookie name (the e2e server runs with NODE_ENV=production, Secure cookies). */
export const COOKIE_NAME = "__Host-qc_session";

/** A real session row for `email` and the Cookie header that presents it. */
export async function sessionCookieFor(email: string): Promise<string> {
  const c = await rawDb();
  try {
    const token = newSessionToken();
    const { rows } = await c.query("SELECT id FROM users WHERE lower(email) = lower($1)", [email]);
    if (!rows[0]) throw new Error(`no user ${email}`);
    await c.query(
      "INSERT INTO console_sessions (token_hash, user_id, expires_at) VALUES ($1, $2, now() + interval '1 hour')",
      [hashSessionToken(token), rows[0].id],
    );
    return `${COOKIE_NAME}=${signSessionToken(token, testEnv().sessionSecret)}`;
  } finally {
    await c.end();
  }
}

/** A cookie whose token exists but whose MAC was made with another key. */
export async function forgedCookieFor(email: string): Promise<string> {
  const real = await sessionCookieFor(email);
  const token = real.split("=")[1].split(".")[0];
  return `${COOKIE_NAME}=${signSessionToken(token, "not-the-server-secret-".repeat(3))}`;
}
