import { AUTH_SOURCES, type AuthSource } from "@/lib/auth-sources";

/** Settings keys of the quota defaults, exactly as the gateway names them (spec §2.1). */
export const SYSTEM_QUOTAS_KEY = "default_platform_quotas";
export const sourceQuotasKey = (source: AuthSource) => `auth_source_default_${source}_platform_quotas`;
export const sourceGrantKey = (source: AuthSource) => `auth_source_default_${source}_grant_on_signup`;

/** All 15 keys the quota-defaults form reads and writes, in a fixed order. */
export const QUOTA_DEFAULT_KEYS: readonly string[] = [
  SYSTEM_QUOTAS_KEY,
  ...AUTH_SOURCES.flatMap((s) => [sourceQuotasKey(s), sourceGrantKey(s)]),
];

/**
 * The console's own registration switch (admin's soft switch; REGISTRATION_ENABLED is the
 * operator's hard one). A console-owned key on purpose: the gateway's `registration_enabled`
 * gates the gateway's own sign-up and OAuth first logins, which this switch must never change.
 * "true" = on; anything else, or no row, = off.
 */
export const CONSOLE_REGISTRATION_KEY = "quota_console_registration_enabled";
