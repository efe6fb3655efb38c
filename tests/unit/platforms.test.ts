import { describe, expect, it } from "vitest";

import { isPlatform, PLATFORMS } from "@/lib/billing/platforms";

describe("platform registry", () => {
  it("is the gateway's AllowedQuotaPlatforms, in order (spec §1.2)", () => {
    expect(PLATFORMS).toEqual(["anthropic", "openai", "gemini", "antigravity", "grok", "kimi", "zhipu", "deepseek"]);
    expect(isPlatform("openai")).toBe(true);
    for (const bad of ["OpenAI", "", "__proto__", "toString", null, 1]) expect(isPlatform(bad)).toBe(false);
  });
});
