import bcrypt from "bcryptjs";

/**
 * Password hashing compatible with the Go gateway (golang.org/x/crypto/bcrypt): hashes it writes
 * (`$2a$10$…`) verify here, and hashes written here verify there. Go writes the `2a` minor; the
 * algorithm for passwords under 72 bytes is the same as `2b`, so we write `2a` too.
 */
export const BCRYPT_COST = 10;

/** bcrypt reads at most 72 bytes; Go's GenerateFromPassword rejects longer input outright. */
export const MAX_PASSWORD_BYTES = 72;

/** The shortest password a person may choose (code points); the rest of the policy: password-policy.ts. */
export const MIN_PASSWORD_CHARS = 8;

export async function hashPassword(password: string): Promise<string> {
  if (Buffer.byteLength(password, "utf8") > MAX_PASSWORD_BYTES) throw new Error("password too long");
  const hash = await bcrypt.hash(password, BCRYPT_COST);
  return hash.replace(/^\$2b\$/, "$2a$");
}

export async function verifyPassword(password: string, hash: string): Promise<boolean> {
  if (!/^\$2[abxy]\$\d\d\$/.test(hash)) return false;
  return bcrypt.compare(password, hash);
}

/**
 * A real hash of a random string, compared against when the e-mail is unknown so that an unknown
 * account costs the same bcrypt time as a wrong password (no account enumeration by timing).
 */
export const DUMMY_HASH = "$2a$10$U2X1HZpK8fm4MzrXVfJUbuvt7vfzo69z9fuIXJCIXJ1R8ThU7K3kS";
