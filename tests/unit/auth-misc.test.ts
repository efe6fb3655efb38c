import { describe, expect, it } from "vitest";

import { AUTH_SOURCES, inferSignupSource, isAuthSource } from "@/lib/auth-sources";
import { safeNextPath, SignInSchema } from "@/lib/auth/schemas";
import { isPlatform, PLATFORMS } from "@/lib/billing/platforms";

describe("sign-up sources", () => {
  it("lists the gateway's seven sources", () => {
    expect(AUTH_SOURCES).toEqual(["email", "linuxdo", "oidc", "wechat", "github", "google", "dingtalk"]);
  });

  it("infers the source from the gateway's synthetic e-mail suffixes (spec §2.5)", () => {
    expect(inferSignupSource("linuxdo-1@linuxdo-connect.invalid")).toBe("linuxdo");
    expect(inferSignupSource("x@DINGTALK-connect.invalid")).toBe("dingtalk");
    expect(inferSignupSource("x@oidc-connect.invalid")).toBe("oidc");
    expect(inferSignupSource("x@wechat-connect.invalid")).toBe("wechat");
    expect(inferSignupSource("x@gmail.com")).toBe("email");
    expect(inferSignupSource("x@linuxdo-connect.invalid.example")).toBe("email");
    expect(isAuthSource("github")).toBe(true);
    expect(isAuthSource("GitHub")).toBe(false);
  });
});

describe("platform registry", () => {
  it("is the gateway's AllowedQuotaPlatforms, in order (spec §1.2)", () => {
    expect(PLATFORMS).toEqual(["anthropic", "openai", "gemini", "antigravity", "grok", "kimi", "zhipu", "deepseek"]);
    expect(isPlatform("openai")).toBe(true);
    for (const bad of ["OpenAI", "", "__proto__", "toString", null, 1]) expect(isPlatform(bad)).toBe(false);
  });
});

describe("sign-in input", () => {
  it("accepts a normal form and reports field codes for a bad one", () => {
    expect(SignInSchema.safeParse({ email: " a@b.co ", password: "p", locale: "zh" }).success).toBe(true);
    const bad = SignInSchema.safeParse({ email: "nope", password: "", locale: "xx" });
    expect(bad.success).toBe(false);
    const codes = bad.error!.issues.map((i) => `${i.path.join(".")}:${i.message}`);
    expect(codes).toEqual(expect.arrayContaining(["email:INVALID_EMAIL", "password:REQUIRED"]));
  });

  // Guards against an open redirect through ?next= after sign-in.
  it("only redirects inside this site after sign-in", () => {
    expect(safeNextPath("/zh/admin/users", "en")).toBe("/zh/admin/users");
    for (const evil of [
      "//evil.example",
      "https://evil.example",
      "/en/../../x",
      "/\\evil",
      "javascript:alert(1)",
      undefined,
    ]) {
      expect(safeNextPath(evil, "en")).toBe("/en/dashboard");
    }
  });
});
