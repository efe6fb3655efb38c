import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * Known-device tokens (OWASP "device cookies"): a successful sign-in leaves, per account, an
 * HMAC-signed `<userId>.<nonce>.<mac>` entry in one httpOnly cookie. A browser that presents a
 * valid entry for the account it signs in to is throttled only on its own failures, so nobody
 * else's wrong passwords can lock it out (lib/auth/sign-in-throttle.ts). Entries are bound to the
 * account id (an entry for one account means nothing for another) and signed with SESSION_SECRET
 * under their own label, so a session token can never pass as a device token or the reverse.
 */
export type DeviceEntry = { userId: string; nonce: string };

/** At most this many accounts are remembered per browser (newest first). */
export const MAX_DEVICE_ENTRIES = 5;
const MAX_COOKIE_CHARS = 1024;

function mac(userId: string, nonce: string, secret: string): string {
  return createHmac("sha256", secret).update(`qc-device-v1|${userId}|${nonce}`).digest("base64url");
}

export function newDeviceNonce(): string {
  return randomBytes(16).toString("base64url");
}

/** The valid entries of a cookie value; malformed or forged entries are dropped silently. */
export function parseDeviceCookie(value: string | undefined, secret: string): DeviceEntry[] {
  if (!value || value.length > MAX_COOKIE_CHARS) return [];
  const out: DeviceEntry[] = [];
  for (const part of value.split("~").slice(0, MAX_DEVICE_ENTRIES)) {
    const m = /^(\d{1,19})\.([\w-]{16,64})\.([\w-]{43})$/.exec(part);
    if (!m) continue;
    const given = Buffer.from(m[3], "base64url");
    const expected = Buffer.from(mac(m[1], m[2], secret), "base64url");
    if (given.length === expected.length && timingSafeEqual(given, expected)) out.push({ userId: m[1], nonce: m[2] });
  }
  return out;
}

export function serializeDeviceCookie(entries: DeviceEntry[], secret: string): string {
  return entries
    .slice(0, MAX_DEVICE_ENTRIES)
    .map((e) => `${e.userId}.${e.nonce}.${mac(e.userId, e.nonce, secret)}`)
    .join("~");
}

/** This browser's device nonce for the account, if it signed in to it before. */
export function knownDeviceNonce(entries: DeviceEntry[], userId: bigint | number | string): string | null {
  return entries.find((e) => e.userId === String(userId))?.nonce ?? null;
}

/** The entries after a successful sign-in to `userId` with `nonce`: that account first, others kept. */
export function rememberDevice(entries: DeviceEntry[], userId: bigint | number | string, nonce: string): DeviceEntry[] {
  const id = String(userId);
  return [{ userId: id, nonce }, ...entries.filter((e) => e.userId !== id)].slice(0, MAX_DEVICE_ENTRIES);
}
