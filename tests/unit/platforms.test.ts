import { describe, expect, it } from "vitest";

import {
  DEFAULT_PLATFORMS,
  invalidPlatformName,
  isKnownPlatform,
  isPlatform,
  platformLabel,
  platformRegistry,
} from "@/lib/billing/platforms";

describe("platform registry", () => {
  it("the console's own list is the gateway's AllowedQuotaPlatforms, in order (spec §1.2)", () => {
    expect(DEFAULT_PLATFORMS).toEqual([
      "anthropic",
      "openai",
      "gemini",
      "antigravity",
      "grok",
      "kimi",
      "zhipu",
      "deepseek",
    ]);
    expect(isPlatform("openai", DEFAULT_PLATFORMS)).toBe(true);
    for (const bad of ["OpenAI", "", "__proto__", "toString", null, 1, "kiro"])
      expect(isPlatform(bad, DEFAULT_PLATFORMS)).toBe(false);
  });

  it("membership is the given registry's: a fork's ninth platform is a member of its registry only", () => {
    const fork = platformRegistry([...DEFAULT_PLATFORMS, "kiro"]);
    expect(isPlatform("kiro", fork)).toBe(true);
    expect(isPlatform("kiro", DEFAULT_PLATFORMS)).toBe(false);
    expect(isKnownPlatform("kiro")).toBe(false);
  });

  it("display names: the console's label for its own platforms, the raw name for any other (spec §8.5)", () => {
    expect(platformLabel("anthropic")).toBe("Claude");
    expect(platformLabel("kiro")).toBe("kiro");
    expect(platformLabel("deepseek", (p) => `t:${p}`)).toBe("t:deepseek");
    expect(platformLabel("kiro", () => "never")).toBe("kiro");
  });

  it("refuses names that are unsafe as object keys, Redis keys or field paths, and duplicates", () => {
    for (const bad of ["", "a".repeat(33), "__proto__", "constructor", "a:b", "a.b", "9lives", "ki ro"])
      expect(invalidPlatformName(bad), bad).not.toBe(null);
    expect(invalidPlatformName("kiro")).toBe(null);
    expect(invalidPlatformName("fal-ai_2")).toBe(null);
    expect(() => platformRegistry([])).toThrow(/empty/);
    expect(() => platformRegistry(["openai", "openai"])).toThrow(/twice/);
    expect(() => platformRegistry(["openai", "a:b"])).toThrow(/"a:b"/);
    expect(Object.isFrozen(platformRegistry(["openai"]))).toBe(true);
  });
});
