import "server-only";

import { db } from "@/lib/db/client";

import { clientThrottleKey } from "./client-ip";
import { knownDeviceNonce, newDeviceNonce, type DeviceEntry } from "./device-token";
import { emailDigest, emailMatchSql } from "./email";
import { DUMMY_HASH, verifyPassword } from "./password";
import {
  appThrottleDeps,
  settleSignInAttempt,
  takeSignInAttempt,
  type AttemptSubject,
  type ThrottleDeps,
} from "./sign-in-throttle";

export type CredentialCheck =
  | { ok: true; userId: bigint; deviceNonce: string }
  | { ok: false; code: "INVALID_CREDENTIALS" }
  | { ok: false; code: "RATE_LIMITED"; retryAfterSeconds: number };

type Candidate = { id: bigint; status: string; password_hash: string; matches: bigint };

/**
 * The accounts an address names, exactly as the gateway's GetByEmail finds them:
 * `lower(trim(email)) = lower(trim($1))`, not soft-deleted. No pattern matching, so `_` and `%`
 * are ordinary characters.
 */
async function findByEmail(email: string): Promise<{ user: Candidate | null; matches: number }> {
  const rows = await db().$queryRawUnsafe<Candidate[]>(
    `SELECT id, status, password_hash, count(*) OVER () AS matches
       FROM users WHERE ${emailMatchSql(1)} AND deleted_at IS NULL ORDER BY id LIMIT 2`,
    email,
  );
  const matches = rows.length ? Number(rows[0].matches) : 0;
  return { user: matches === 1 ? rows[0] : null, matches };
}

/**
 * Verify an e-mail and password, with throttling (lib/auth/sign-in-throttle.ts). Unknown e-mail,
 * wrong password, a disabled account and an address several accounts share all answer
 * INVALID_CREDENTIALS after the same bcrypt work, so the answer does not tell whether an account
 * exists. `client.devices` are this browser's valid device tokens; on success the returned
 * `deviceNonce` is the one to remember for the account. `deps`: the throttle's Redis and limits
 * (the app's unless given).
 */
export async function checkCredentials(
  email: string,
  password: string,
  client: { ip: string; devices?: DeviceEntry[] },
  now = Date.now(),
  deps: ThrottleDeps = appThrottleDeps(),
): Promise<CredentialCheck> {
  const { user, matches } = await findByEmail(email);
  if (matches > 1) {
    // Like the gateway's GetByEmail: an ambiguous address signs nobody in. Logged without it.
    console.error(
      `[signIn] ${matches} accounts share one normalised e-mail (digest ${emailDigest(email).slice(0, 12)}): refusing; an admin must resolve the duplicates`,
    );
  }
  const device = user ? knownDeviceNonce(client.devices ?? [], user.id) : null;
  const subject: AttemptSubject = {
    account: user ? `u:${user.id}` : `e:${emailDigest(email)}`,
    client: clientThrottleKey(client.ip),
    device,
  };
  const gate = await takeSignInAttempt(subject, now, deps);
  if (!gate.allowed) return { ok: false, code: "RATE_LIMITED", retryAfterSeconds: gate.retryAfterSeconds };

  const valid = await verifyPassword(password, user?.password_hash ?? DUMMY_HASH);
  const ok = !!user && valid && user.status === "active";
  await settleSignInAttempt(subject, ok, gate.counts, now, deps);
  if (!ok || !user) return { ok: false, code: "INVALID_CREDENTIALS" };
  return { ok: true, userId: user.id, deviceNonce: device ?? newDeviceNonce() };
}
