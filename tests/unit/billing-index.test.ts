import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

import * as billing from "@/lib/billing";

const root = path.join(import.meta.dirname, "../..");

describe("lib/billing public surface", () => {
  it("the README example is the typechecked fixture, byte for byte", () => {
    const readme = readFileSync(path.join(root, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## The billing library"));
    const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    const fixture = readFileSync(path.join(import.meta.dirname, "fixtures/readme-billing-example.ts"), "utf8");
    const marker = "// ---- README example ----\n";
    expect(fixture).toContain(marker);
    expect(block).toBe(fixture.slice(fixture.indexOf(marker) + marker.length));
  });

  it("exports what a Node service needs, at runtime too", () => {
    for (const name of [
      "createBillingRuntime",
      "billingConfigFromEnv",
      "BillingService",
      "billingErrorResponse",
      "QuotaExhaustedError",
      "BillingServiceError",
      "QuotaClock",
      "registerBillingMetrics",
    ] as const)
      expect(typeof billing[name], name).toBe("function");
    expect(billing.DEFAULT_PLATFORMS).toContain("anthropic");
    expect(billing.QUOTA_WINDOWS).toEqual(["daily", "weekly", "monthly"]);
    expect(billing.billingKeys.userPlatformQuota(7, "openai")).toBe("billing:user_platform_quota:7:openai");
  });
});
