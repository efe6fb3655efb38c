/**
 * The gateway's sign-up sources (spec §2.1, §2.5). Each has its own default-quota settings key and
 * grant-on-sign-up flag; `users.signup_source` holds one of these names.
 */
export const AUTH_SOURCES = ["email", "linuxdo", "oidc", "wechat", "github", "google", "dingtalk"] as const;

export type AuthSource = (typeof AUTH_SOURCES)[number];

const sourceSet: ReadonlySet<string> = new Set(AUTH_SOURCES);

export function isAuthSource(value: unknown): value is AuthSource {
  return typeof value === "string" && sourceSet.has(value);
}

/**
 * The synthetic e-mail domains the gateway gives OAuth users without a real address
 * (`inferLegacySignupSource`, spec §2.5). github and google users sign up with real addresses.
 */
export const SYNTHETIC_EMAIL_DOMAINS: Readonly<Partial<Record<AuthSource, string>>> = {
  dingtalk: "dingtalk-connect.invalid",
  linuxdo: "linuxdo-connect.invalid",
  oidc: "oidc-connect.invalid",
  wechat: "wechat-connect.invalid",
};

/** The gateway's inference of a sign-up source from an e-mail suffix; anything else is `email`. */
export function inferSignupSource(email: string): AuthSource {
  const lower = email.toLowerCase();
  for (const [source, domain] of Object.entries(SYNTHETIC_EMAIL_DOMAINS)) {
    if (lower.endsWith(`@${domain}`)) return source as AuthSource;
  }
  return "email";
}
