/**
 * The platform registry: the one list of upstream platforms a quota can be set for.
 *
 * It mirrors the gateway's `AllowedQuotaPlatforms` (spec §1.2) in the same order; the order drives
 * UI iteration and cache invalidation. The CHECK constraint `user_platform_quotas_platform_check`
 * in the migrations must list exactly these names — tests/integration/schema.test.ts compares them
 * against the migrated database. Adding a platform therefore means: add it here, add a migration
 * that drops and re-adds the CHECK, and add its display names to messages/*.json.
 */
export const PLATFORMS = ["anthropic", "openai", "gemini", "antigravity", "grok", "kimi", "zhipu", "deepseek"] as const;

export type Platform = (typeof PLATFORMS)[number];

/** Display names shown in the UI (spec §8.5: anthropic → "Claude"; others by their brand). */
export const PLATFORM_LABELS: Readonly<Record<Platform, string>> = {
  anthropic: "Claude",
  openai: "OpenAI",
  gemini: "Gemini",
  antigravity: "Antigravity",
  grok: "Grok",
  kimi: "Kimi",
  zhipu: "Zhipu",
  deepseek: "DeepSeek",
};

const platformSet: ReadonlySet<string> = new Set(PLATFORMS);

/** True when `value` names a registry platform (exact, case-sensitive, as the gateway checks). */
export function isPlatform(value: unknown): value is Platform {
  return typeof value === "string" && platformSet.has(value);
}
