import { describe, expect, it } from "vitest";

import { AUTH_SOURCES, inferSignupSource, isAuthSource } from "@/lib/auth-sources";

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
