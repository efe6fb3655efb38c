import "server-only";

import type { AuthSource } from "@/lib/auth-sources";
import { db, pgPool } from "@/lib/db/client";
import { refreshQuotaKeys } from "@/lib/users/quota-keys";
import { envQuotaClock } from "@/lib/users/quota-keys-clock";
import { signUpUser } from "@/lib/users/signup";
import { ensureBootstrapAdmin } from "@/lib/users/users";

/** Credentials printed by `npm run demo` and used by the e2e tests. */
export const DEMO_ADMIN = { email: "admin@example.com", password: "admin-demo-pass" } as const;
export const DEMO_USER_PASSWORD = "user-demo-pass";

/**
 * Demo users from several sign-up sources. OAuth users without a real address get the gateway's
 * synthetic `…@<source>-connect.invalid` e-mails (spec §2.5).
 */
export const DEMO_USERS: ReadonlyArray<{
  email: string;
  username: string;
  source: AuthSource;
  balance: string;
  status?: "active" | "disabled";
  /** limits an admin "set" after sign-up, so the demo has capped users (the defaults cap no one) */
  limits?: Record<string, { daily: number | null; weekly: number | null; monthly: number | null }>;
}> = [
  // alice is the README's simulator example (`npm run simulate -- --email alice@example.com`): her
  // usage moves on the dashboard and the users list at once, and the daily cap is reached in minutes.
  {
    email: "alice@example.com",
    username: "alice",
    source: "email",
    balance: "25.00",
    limits: {
      anthropic: { daily: 5, weekly: 20, monthly: 60 },
      openai: { daily: 2, weekly: null, monthly: 30 },
    },
  },
  { email: "linuxdo-10086@linuxdo-connect.invalid", username: "linuxdo_10086", source: "linuxdo", balance: "12.50" },
  { email: "oidc-7f3a2c91@oidc-connect.invalid", username: "oidc_7f3a2c91", source: "oidc", balance: "100.00" },
  { email: "wechat-o6zAJs5c@wechat-connect.invalid", username: "微信用户", source: "wechat", balance: "8.80" },
  { email: "bob.dev@example.org", username: "bobdev", source: "github", balance: "42.00" },
  { email: "carol.w@example.net", username: "carol", source: "google", balance: "3.14" },
  { email: "dingtalk-88421@dingtalk-connect.invalid", username: "钉钉用户", source: "dingtalk", balance: "0.00" },
  { email: "dave@example.com", username: "dave", source: "email", balance: "5.00", status: "disabled" },
];

/**
 * Idempotent demo seed: creates what is missing and never changes what exists, so running it
 * twice leaves the same rows (a user's limits are set only when the seed creates the user). The admin comes from ADMIN_EMAIL / ADMIN_PASSWORD when set and,
 * like an admin-created user in the gateway, has no quota rows.
 */
export async function seedDemo(opts: { adminEmail?: string; adminPassword?: string } = {}) {
  const adminEmail = opts.adminEmail ?? DEMO_ADMIN.email;
  const admin = await ensureBootstrapAdmin(adminEmail, opts.adminPassword ?? DEMO_ADMIN.password);
  let created = admin?.outcome === "created" ? 1 : 0;
  for (const u of DEMO_USERS) {
    // Demo users sign up like real ones: each gets the sign-up snapshot of the quota defaults.
    const r = await signUpUser({
      email: u.email,
      password: DEMO_USER_PASSWORD,
      username: u.username,
      source: u.source,
      balance: u.balance,
    });
    if (r.ok) {
      created += 1;
      if (u.status === "disabled")
        await db().user.update({ where: { id: BigInt(r.userId) }, data: { status: "disabled" } });
      for (const [platform, l] of Object.entries(u.limits ?? {}))
        await pgPool().query(
          `INSERT INTO user_platform_quotas (user_id, platform, daily_limit_usd, weekly_limit_usd, monthly_limit_usd)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (user_id, platform) WHERE deleted_at IS NULL DO UPDATE SET daily_limit_usd = EXCLUDED.daily_limit_usd,
             weekly_limit_usd = EXCLUDED.weekly_limit_usd, monthly_limit_usd = EXCLUDED.monthly_limit_usd, updated_at = now()`,
          [r.userId, platform, l.daily, l.weekly, l.monthly],
        );
      // the users list's quota keys of the limits just set (sign-up computed them before)
      if (u.limits) await refreshQuotaKeys(pgPool(), envQuotaClock(), [r.userId]);
    }
  }
  return { adminEmail, adminOutcome: admin?.outcome ?? null, created, total: DEMO_USERS.length + 1 };
}
