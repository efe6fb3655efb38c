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

/** OAuth providers whose sign-up gives the account a synthetic address (docs/gateway/schema.md §2.1). */
export type OAuthProvider = "linuxdo" | "oidc" | "wechat" | "dingtalk";

export type CredentialCheck =
  | { ok: true; userId: bigint; deviceNonce: string }
  | { ok: false; code: "INVALID_CREDENTIALS" }
  | { ok: false; code: "OAUTH_ACCOUNT"; provider: OAuthProvider }
  | { ok: false; code: "TWO_FACTOR_REQUIRED" | "ADMINS_ONLY" }
  | { ok: false; code: "RATE_LIMITED"; retryAfterSeconds: number };

const SYNTHETIC_OAUTH = /@(linuxdo|oidc|wechat|dingtalk)-connect\.invalid$/;

/**
 * The provider of a synthetic OAuth address (`linuxdo-<subject>@linuxdo-connect.invalid`, …: the
 * gateway's domain constants). Such accounts got the bcrypt hash of 64 random hex characters, so
 * no password signs them in until their owner sets one on the gateway. Decided by the address's
 * form alone, so telling the user says nothing about whether the account exists.
 */
export function syntheticOAuthProvider(email: string): OAuthProvider | null {
  const m = SYNTHETIC_OAUTH.exec(email.trim().toLowerCase());
  return m ? (m[1] as OAuthProvider) : null;
}

type Candidate = { id: bigint; status: string; role: string; password_hash: string; totp_enabled: boolean };
type Found = {
  user: Candidate | null;
  matches: number;
  /** the gateway's `totp_enabled` setting is "true": accounts with users.totp_enabled need a code */
  siteTotp: boolean;
  /** the gateway's `backend_mode_enabled` setting is "true": only admins may sign in */
  backendMode: boolean;
};

/**
 * The accounts an address names, exactly as the gateway's GetByEmail finds them:
 * `lower(trim(email)) = lower(trim($1))`, not soft-deleted (no pattern matching, so `_` and `%`
 * are ordinary characters) — and, in the same round trip, the gateway's two login settings that
 * decide who may sign in (`handler/auth_handler.go`: TOTP and backend mode; absent rows are off).
 */
async function findByEmail(email: string): Promise<Found> {
  const rows = await db().$queryRawUnsafe<
    Array<Partial<Candidate> & { matches: bigint | null; site_totp: string | null; backend_mode: string | null }>
  >(
    `WITH site AS (
       SELECT (SELECT value FROM settings WHERE key = 'totp_enabled') AS site_totp,
              (SELECT value FROM settings WHERE key = 'backend_mode_enabled') AS backend_mode)
     SELECT u.id, u.status, u.role, u.password_hash, u.totp_enabled, count(u.id) OVER () AS matches,
            site.site_totp, site.backend_mode
       FROM site LEFT JOIN users u ON ${emailMatchSql(1, "u.email")} AND u.deleted_at IS NULL
      ORDER BY u.id LIMIT 2`,
    email,
  );
  const first = rows[0];
  const matches = Number(first?.matches ?? 0);
  return {
    user: matches === 1 ? (first as Candidate) : null,
    matches,
    siteTotp: first?.site_totp === "true",
    backendMode: first?.backend_mode === "true",
  };
}

/**
 * Verify an e-mail and password, with throttling (lib/auth/sign-in-throttle.ts). Unknown e-mail,
 * wrong password, a disabled account and an address several accounts share all answer
 * INVALID_CREDENTIALS after the same bcrypt work, so the answer does not tell whether an account
 * exists — except that a synthetic OAuth address answers OAUTH_ACCOUNT instead (by its form,
 * whether or not it exists). Only the right password of an active account learns that the
 * gateway's settings keep it out: TWO_FACTOR_REQUIRED (the console cannot check the gateway's
 * TOTP codes, so it refuses rather than skip the second factor) or ADMINS_ONLY (backend mode).
 * Every refusal counts as a failure for the throttle. `client.devices` are this browser's valid device tokens; on success the returned
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
  const { user, matches, siteTotp, backendMode } = await findByEmail(email);
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
  const active = !!user && valid && user.status === "active";
  const refusal: CredentialCheck | null = !active
    ? null
    : siteTotp && user.totp_enabled
      ? { ok: false, code: "TWO_FACTOR_REQUIRED" }
      : backendMode && user.role !== "admin"
        ? { ok: false, code: "ADMINS_ONLY" }
        : null;
  const ok = active && !refusal;
  await settleSignInAttempt(subject, ok, gate.counts, now, deps);
  if (refusal) return refusal;
  if (!ok || !user) {
    const provider = syntheticOAuthProvider(email);
    return provider ? { ok: false, code: "OAUTH_ACCOUNT", provider } : { ok: false, code: "INVALID_CREDENTIALS" };
  }
  return { ok: true, userId: user.id, deviceNonce: device ?? newDeviceNonce() };
}
