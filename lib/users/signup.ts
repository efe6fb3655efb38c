import "server-only";

import type pg from "pg";

import type { AuthSource } from "@/lib/auth-sources";
import { emailAdvisoryLockKey, emailMatchSql } from "@/lib/auth/email";
import { hashPassword } from "@/lib/auth/password";
import { pgPool } from "@/lib/db/client";
import { appPlatforms } from "@/lib/db/platforms";
import { rollback, withTransaction } from "@/lib/db/transaction";
import { planSignupDefaults, reportSignupFallbacks, type SignupPlan } from "@/lib/settings/signup-plan";
import { readQuotaDefaults } from "@/lib/settings/store";

import { refreshQuotaKeys } from "./quota-keys";
import { envQuotaClock } from "./quota-keys-clock";

export type SignUpResult = { ok: true; userId: number } | { ok: false; code: "EMAIL_TAKEN" };

const UNIQUE_VIOLATION = "23505";

/**
 * Addresses nobody can register by e-mail: the `.invalid` top-level domain (RFC 2606, never
 * deliverable), which holds the gateway's synthetic OAuth addresses (`…@linuxdo-connect.invalid`,
 * `…@oidc-connect.invalid`, …) that its direct registration refuses too (`isReservedEmail`).
 */
export function isReservedSignupEmail(email: string): boolean {
  return /\.invalid$/.test(email.trim().toLowerCase());
}

/**
 * Create a user and snapshot the sign-up quota defaults into `user_platform_quotas` — one row per
 * registry platform, all-null rows included — in the same transaction (spec §2.5, improved: the
 * gateway snapshots outside the sign-up transaction and swallows failures, so a user can end up
 * with no rows, i.e. unlimited). Later changes of the defaults do not touch these rows.
 *
 * One account per normalised address (lower(trim(email))), even under concurrency and next to the
 * gateway: inside the transaction we take the gateway's own advisory lock for the address
 * (`emailAdvisoryLockKey`, the key its sign-up takes) and then re-check with the gateway's
 * predicate among live rows. Concurrent sign-ups of `A@x.com` and ` a@x.com` therefore run one
 * after the other, and the second finds the first. Where the console owns the schema, the unique
 * index `qc_users_email_normalized_unique_active` is the backstop; a unique violation from it (or
 * from `users_email_key` / the gateway's `users_email_unique_active`) is EMAIL_TAKEN too. No
 * `ON CONFLICT (email)`: the gateway's only e-mail index is partial, which that clause cannot use.
 *
 * The password is hashed before anything is looked up, so a taken address costs the same bcrypt
 * work as a new one.
 *
 * What the rows hold is `planSignupDefaults` (lib/settings/signup-plan.ts): an unreadable stored
 * map disables instead of granting "unlimited", and a stored limit the DECIMAL(20,10) columns
 * cannot hold is clamped / rounded instead of failing the INSERT. Fallbacks are logged and counted
 * after the commit.
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
  // Resolved before the transaction: attached, the first resolution reads the catalog on another
  // pool connection, which on a one-session database (the demo's PGlite) waits for this
  // transaction — a deadlock ended only by the connection timeout.
  const platforms = await appPlatforms();
  const out = await withTransaction<{ result: SignUpResult; plan?: SignupPlan }>(pgPool(), async (client) => {
    await client.query("SELECT pg_advisory_xact_lock($1::bigint)", [emailAdvisoryLockKey(email).toString()]);
    const taken = await client.query(`SELECT 1 FROM users WHERE ${emailMatchSql(1)} AND deleted_at IS NULL LIMIT 1`, [
      email,
    ]);
    if (taken.rowCount) return rollback({ result: { ok: false, code: "EMAIL_TAKEN" } });
    // username only when given: both layouts have NOT NULL DEFAULT '' (the gateway's), so omitting it stores ''.
    const username = input.username ?? null;
    const cols = [
      "email",
      "password_hash",
      "role",
      "status",
      "balance",
      "signup_source",
      ...(username === null ? [] : ["username"]),
    ];
    const values = [
      email,
      passwordHash,
      "user",
      "active",
      input.balance ?? "0",
      input.source,
      ...(username === null ? [] : [username]),
    ];
    let inserted;
    try {
      inserted = await client.query<{ id: string }>(
        `INSERT INTO users (${cols.join(", ")}) VALUES (${cols.map((_, i) => `$${i + 1}`).join(", ")}) RETURNING id`,
        values,
      );
    } catch (e) {
      if ((e as { code?: string }).code !== UNIQUE_VIOLATION) throw e;
      return rollback({ result: { ok: false, code: "EMAIL_TAKEN" } });
    }
    const userId = Number(inserted.rows[0].id);
    const plan = planSignupDefaults(await readQuotaDefaults(client, platforms), input.source);
    await insertSnapshot(client, userId, plan);
    // The users list's quota keys of the new user, in this transaction (lib/users/quota-keys.ts).
    await refreshQuotaKeys(client, envQuotaClock(), [userId]);
    return { result: { ok: true, userId }, plan };
  });
  if (out.result.ok && out.plan) reportSignupFallbacks(out.plan, out.result.userId);
  return out.result;
}

/**
 * One row per registry platform, limits as exact decimal literals. Not the billing repo's
 * `bulkInsertInitial`: that one takes float64 limits, and no float64 is the clamp value
 * 9999999999.9999999999. A brand-new user has no rows, so no conflict handling is needed.
 */
async function insertSnapshot(client: Pick<pg.PoolClient, "query">, userId: number, plan: SignupPlan): Promise<void> {
  const col = (w: "daily" | "weekly" | "monthly") => plan.platforms.map((p) => plan.limits[p][w]);
  await client.query(
    `INSERT INTO user_platform_quotas (user_id, platform, daily_limit_usd, weekly_limit_usd, monthly_limit_usd, created_at, updated_at)
     SELECT $1, r.platform, r.d, r.w, r.m, $6, $6
     FROM unnest($2::text[], $3::numeric[], $4::numeric[], $5::numeric[]) AS r(platform, d, w, m)`,
    [userId, [...plan.platforms], col("daily"), col("weekly"), col("monthly"), new Date()],
  );
}
