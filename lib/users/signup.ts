import "server-only";
import type { AuthSource } from "@/lib/auth-sources";
import { hashPassword } from "@/lib/auth/password";
import { PLATFORMS } from "@/lib/billing/platforms";
import { pgPool } from "@/lib/db/client";
import { appBilling } from "@/lib/quota/runtime";
import { effectiveLimits, mergeSignupDefaults } from "@/lib/settings/merge";
import { readQuotaDefaults } from "@/lib/settings/store";

export type SignUpResult = { ok: true; userId: number } | { ok: false; code: "EMAIL_TAKEN" };

/**
 * Create a user and snapshot the sign-up quota defaults into `user_platform_quotas` — one row per
 * registry platform, all-null rows included — in the same transaction (spec §2.5, improved: the
 * gateway snapshots outside the sign-up transaction and swallows failures, so a user can end up
 * with no rows, i.e. unlimited). Later changes of the defaults do not touch these rows.
 */
export async function signUpUser(input: {
  email: string;
  password: string;
  source: AuthSource;
  username?: string | null;
  balance?: string;
}): Promise<SignUpResult> {
  const email = input.email.trim();
  const passwordHash = await hashPassword(input.password);
  const client = await pgPool().connect();
  try {
    await client.query("BEGIN");
    const taken = await client.query("SELECT 1 FROM users WHERE lower(email) = lower($1)", [email]);
    if (taken.rowCount) {
      await client.query("ROLLBACK");
      return { ok: false, code: "EMAIL_TAKEN" };
    }
    const inserted = await client.query<{ id: string }>(
      `INSERT INTO users (email, username, password_hash, role, status, balance, signup_source)
       VALUES ($1, $2, $3, 'user', 'active', $4, $5) ON CONFLICT (email) DO NOTHING RETURNING id`,
      [email, input.username ?? null, passwordHash, input.balance ?? "0", input.source],
    );
    if (!inserted.rows[0]) {
      await client.query("ROLLBACK");
      return { ok: false, code: "EMAIL_TAKEN" };
    }
    const userId = Number(inserted.rows[0].id);
    const defaults = await readQuotaDefaults(client);
    const plan = effectiveLimits(mergeSignupDefaults(defaults.system, defaults.sources[input.source]));
    await appBilling().repo.bulkInsertInitial(
      PLATFORMS.map((platform) => ({ userId, platform, limits: plan[platform] })),
      client,
    );
    await client.query("COMMIT");
    return { ok: true, userId };
  } catch (e) {
    await client.query("ROLLBACK").catch(() => {});
    throw e;
  } finally {
    client.release();
  }
}
