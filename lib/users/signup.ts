import "server-only";
import type pg from "pg";
import type { AuthSource } from "@/lib/auth-sources";
import { hashPassword } from "@/lib/auth/password";
import { PLATFORMS } from "@/lib/billing/platforms";
import { pgPool } from "@/lib/db/client";
import { planSignupDefaults, reportSignupFallbacks, type SignupPlan } from "@/lib/settings/signup-plan";
import { readQuotaDefaults } from "@/lib/settings/store";

export type SignUpResult = { ok: true; userId: number } | { ok: false; code: "EMAIL_TAKEN" };

/**
 * Create a user and snapshot the sign-up quota defaults into `user_platform_quotas` — one row per
 * registry platform, all-null rows included — in the same transaction (spec §2.5, improved: the
 * gateway snapshots outside the sign-up transaction and swallows failures, so a user can end up
 * with no rows, i.e. unlimited). Later changes of the defaults do not touch these rows.
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
    const plan = planSignupDefaults(await readQuotaDefaults(client), input.source);
    await insertSnapshot(client, userId, plan);
    await client.query("COMMIT");
    reportSignupFallbacks(plan, userId);
    return { ok: true, userId };
  } catch (e) {
    await client.query("ROLLBACK").catch(() => {});
    throw e;
  } finally {
    client.release();
  }
}

/**
 * One row per registry platform, limits as exact decimal literals. Not the billing repo's
 * `bulkInsertInitial`: that one takes float64 limits, and no float64 is the clamp value
 * 9999999999.9999999999. A brand-new user has no rows, so no conflict handling is needed.
 */
async function insertSnapshot(client: Pick<pg.PoolClient, "query">, userId: number, plan: SignupPlan): Promise<void> {
  const col = (w: "daily" | "weekly" | "monthly") => PLATFORMS.map((p) => plan.limits[p][w]);
  await client.query(
    `INSERT INTO user_platform_quotas (user_id, platform, daily_limit_usd, weekly_limit_usd, monthly_limit_usd, created_at, updated_at)
     SELECT $1, r.platform, r.d, r.w, r.m, $6, $6
     FROM unnest($2::text[], $3::numeric[], $4::numeric[], $5::numeric[]) AS r(platform, d, w, m)`,
    [userId, [...PLATFORMS], col("daily"), col("weekly"), col("monthly"), new Date()],
  );
}
