import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * Session cookie tokens: `<token>.<hmac>`, both base64url. The HMAC (SHA-256, SESSION_SECRET)
 * rejects a tampered or forged cookie before any database work; the database stores only the
 * SHA-256 of the token, so a leaked table holds no usable session.
 */
export function newSessionToken(): string {
  return randomBytes(32).toString("base64url");
}

function mac(token: string, secret: string): string {
  return createHmac("sha256", secret).update(token).digest("base64url");
}

export function signSessionToken(token: string, secret: string): string {
  return `${token}.${mac(token, secret)}`;
}

/** The token inside a cookie value, or null when the value is malformed or its MAC is wrong. */
export function verifySessionCookie(value: string | undefined, secret: string): string | null {
  if (!value || value.length > 200) return null;
  const dot = value.indexOf(".");
  if (dot <= 0 || dot !== value.lastIndexOf(".")) return null;
  const token = value.slice(0, dot);
  const given = Buffer.from(value.slice(dot + 1), "base64url");
  const expected = Buffer.from(mac(token, secret), "base64url");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  return token;
}

export function hashSessionToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}
