/**
 * The platform registry: the list of upstream platforms a quota can be set for, in the order that
 * drives UI iteration and cache invalidation.
 *
 * It is a runtime value, not a type. The console's own list, DEFAULT_PLATFORMS, mirrors the
 * gateway's `AllowedQuotaPlatforms` (spec §1.2) in the same order and is the registry in standalone
 * mode, where the migrations' CHECK `user_platform_quotas_platform_check` lists exactly these names
 * (tests/integration/schema.test.ts compares them). In attached mode the registry is the live CHECK's
 * list, read once at start-up by the compatibility check (lib/db/compat.ts, lib/platforms/registry.ts):
 * a fork with a ninth platform works end to end, and the check refuses a CHECK narrower than
 * DEFAULT_PLATFORMS. Code that needs the registry takes it as a parameter (the billing runtime's
 * `platforms()`, a QuotaDefaults' `platforms`, a view's `platforms`); client components receive it
 * as data. Adding a platform to the console's own list means: add it here, add a migration that drops
 * and re-adds the CHECK, and add its display names to messages/*.json.
 */
export const DEFAULT_PLATFORMS = [
  "anthropic",
  "openai",
  "gemini",
  "antigravity",
  "grok",
  "kimi",
  "zhipu",
  "deepseek",
] as const;

/** A platform the console knows by name (has display names in messages/*.json). */
export type KnownPlatform = (typeof DEFAULT_PLATFORMS)[number];

/** A registry member. Which strings are members is decided at runtime: check with `isPlatform`. */
export type Platform = string;

/** Display names shown in the UI (spec §8.5: anthropic → "Claude"; others by their brand). */
export const PLATFORM_LABELS: Readonly<Record<KnownPlatform, string>> = {
  anthropic: "Claude",
  openai: "OpenAI",
  gemini: "Gemini",
  antigravity: "Antigravity",
  grok: "Grok",
  kimi: "Kimi",
  zhipu: "Zhipu",
  deepseek: "DeepSeek",
};

const knownSet: ReadonlySet<string> = new Set(DEFAULT_PLATFORMS);

/** True for the console's own platforms (those with display names). */
export function isKnownPlatform(value: unknown): value is KnownPlatform {
  return typeof value === "string" && knownSet.has(value);
}

/** True when `value` names a platform of `registry` (exact, case-sensitive, as the gateway checks). */
export function isPlatform(value: unknown, registry: readonly string[]): value is Platform {
  return typeof value === "string" && registry.includes(value);
}

/**
 * A display name: the console's label for a known platform (`known` is the translator of the
 * `Platforms` messages, or PLATFORM_LABELS by default), the raw name for any other (spec §8.5:
 * "any other platform is shown raw").
 */
export function platformLabel(p: string, known: (p: KnownPlatform) => string = (k) => PLATFORM_LABELS[k]): string {
  return isKnownPlatform(p) ? known(p) : p;
}

/**
 * Why a name cannot be a registry platform, or null. The column is varchar(32); names must be safe
 * as object keys and in Redis keys (`billing:user_platform_quota:<uid>:<platform>`) and paths
 * (`quotas.<platform>.daily`): no separators, no prototype keys.
 */
export function invalidPlatformName(p: string): string | null {
  if (p.length === 0 || p.length > 32) return "must be 1 to 32 characters";
  // A leading letter also keeps object keys in insertion (registry) order: no integer-like keys.
  if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(p))
    return "must start with a letter and contain only letters, digits, '_' and '-'";
  if (p === "__proto__" || p === "constructor" || p === "prototype") return "is reserved";
  return null;
}

/** A validated registry (non-empty, unique, every name usable); throws with the reason otherwise. */
export function platformRegistry(list: readonly string[]): readonly string[] {
  if (list.length === 0) throw new Error("platform registry is empty");
  const seen = new Set<string>();
  for (const p of list) {
    const bad = invalidPlatformName(p);
    if (bad) throw new Error(`platform ${JSON.stringify(p)} ${bad}`);
    if (seen.has(p)) throw new Error(`platform ${JSON.stringify(p)} is listed twice`);
    seen.add(p);
  }
  return Object.freeze([...list]);
}
