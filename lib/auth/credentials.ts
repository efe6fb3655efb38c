import "server-only";
import { db } from "@/lib/db/client";
import { DUMMY_HASH, verifyPassword } from "./password";
import { checkLoginGate, clearLoginFailures, recordLoginFailure } from "./rate-limit";

export type CredentialCheck =
  | { ok: true; userId: bigint }
  | { ok: false; code: "INVALID_CREDENTIALS" }
  | { ok: false; code: "RATE_LIMITED"; retryAfterSeconds: number };

/**
 * Verify an e-mail and password, with throttling. Unknown e-mail, wrong password and a disabled
 * account all answer INVALID_CREDENTIALS after the same bcrypt work, so the answer does not tell
 * whether an account exists.
 */
export async function checkCredentials(email: string, password: string, ip: string): Promise<CredentialCheck> {
  const normalized = email.trim().toLowerCase();
  const gate = await checkLoginGate(normalized, ip);
  if (!gate.allowed) return { ok: false, code: "RATE_LIMITED", retryAfterSeconds: gate.retryAfterSeconds };

  const user = await db().user.findFirst({
    where: { email: { equals: email.trim(), mode: "insensitive" }, deletedAt: null },
    select: { id: true, status: true, passwordHash: true },
  });
  const valid = await verifyPassword(password, user?.passwordHash ?? DUMMY_HASH);
  if (!user || !valid || user.status !== "active") {
    await recordLoginFailure(normalized, ip);
    return { ok: false, code: "INVALID_CREDENTIALS" };
  }
  await clearLoginFailures(normalized);
  return { ok: true, userId: user.id };
}
