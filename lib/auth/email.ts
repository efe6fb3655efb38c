import { createHash } from "node:crypto";

/**
 * E-mail identity exactly as the gateway compares it (`repository/user_repo.go`
 * `userEmailLookupPredicate`: `LOWER(TRIM(email)) = lower(trim($1))`). Every lookup of an account
 * by address — sign-in, bootstrap admin, seed, registration — uses these, never `LIKE`/`ILIKE` on
 * raw input (`_` and `%` would be wildcards). Searching the users list is a separate, escaped
 * `ILIKE`.
 *
 * Addresses reach here validated as ASCII (zod `.email()`), where JavaScript's `toLowerCase` and
 * `trim` agree with PostgreSQL's `lower`/`trim` and Go's `strings.ToLower`/`TrimSpace`.
 */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** SQL predicate on `users.email` for the address bound at `$n` (the gateway's, verbatim). */
export function emailMatchSql(param: number, column = "email"): string {
  return `lower(trim(${column})) = lower(trim($${param}))`;
}

/**
 * The PostgreSQL advisory-lock key the gateway takes (`pg_advisory_xact_lock`) inside the
 * transaction that creates a user with this address: `int64(fnv64a("users:normalized-email:" +
 * lower(trim(email))))` (`advisoryLockHash`). Taking the same key serialises our sign-ups with
 * each other and with the gateway's, so one normalised address gets one account.
 */
export function emailAdvisoryLockKey(email: string): bigint {
  return BigInt.asIntN(64, fnv64a(`users:normalized-email:${normalizeEmail(email)}`));
}

const FNV64_OFFSET = 0xcbf29ce484222325n;
const FNV64_PRIME = 0x100000001b3n;
const MASK64 = 0xffffffffffffffffn;

/** FNV-1a, 64 bit, over the UTF-8 bytes (Go's hash/fnv New64a). */
export function fnv64a(s: string): bigint {
  let h = FNV64_OFFSET;
  for (const byte of Buffer.from(s, "utf8")) h = ((h ^ BigInt(byte)) * FNV64_PRIME) & MASK64;
  return h;
}

/** A short, non-reversible id of a normalised address for logs and Redis keys (no address stored). */
export function emailDigest(email: string): string {
  return createHash("sha256").update(normalizeEmail(email)).digest("hex").slice(0, 32);
}
