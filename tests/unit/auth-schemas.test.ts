import { describe, expect, it } from "vitest";
import type { z } from "zod";

import { RegisterSchema, safeNextPath, SignInSchema } from "@/lib/auth/schemas";
import en from "@/messages/en.json";
import zh from "@/messages/zh.json";

/**
 * Every message the sign-in and register schemas can produce is an error code with a message in
 * both languages (issue 10 #7: a missing or non-text field surfaced zod's raw English, e.g.
 * "Invalid input: expected string, received null", in the forms).
 */
const BAD_VALUES: unknown[] = [
  undefined,
  null,
  42,
  true,
  {},
  [],
  "",
  " ",
  "x".repeat(300),
  "not-an-email",
  "a@b",
  "short",
  "密".repeat(25),
  "x".repeat(600),
];

function codes(schema: z.ZodType, fields: string[]): Set<string> {
  const out = new Set<string>();
  for (const f of fields) {
    for (const v of BAD_VALUES) {
      const input: Record<string, unknown> = {
        email: "ok@example.com",
        password: "long-enough-password",
        locale: "en",
      };
      input[f] = v;
      const r = schema.safeParse(input);
      if (!r.success) for (const i of r.error.issues) out.add(i.message);
    }
  }
  const whole = schema.safeParse(null);
  if (!whole.success) for (const i of whole.error.issues) out.add(i.message);
  return out;
}

describe("auth form schemas", () => {
  it.each([
    ["SignInSchema", SignInSchema, ["email", "password", "locale", "next"]],
    ["RegisterSchema", RegisterSchema, ["email", "password", "locale"]],
  ] as const)("%s: every possible message is a translated error code", (_name, schema, fields) => {
    const found = codes(schema, [...fields]);
    expect(found.size).toBeGreaterThan(2);
    for (const code of found) {
      expect(Object.keys(en.Errors), `en Errors.${code}`).toContain(code);
      expect(Object.keys(zh.Errors), `zh Errors.${code}`).toContain(code);
    }
  });

  it("a missing field is REQUIRED, a bad `next` is ignored rather than an error the form cannot show", () => {
    const r = SignInSchema.safeParse({ email: null, password: undefined, locale: "en", next: "x".repeat(600) });
    expect(r.success).toBe(false);
    if (r.success) return;
    expect(Object.fromEntries(r.error.issues.map((i) => [i.path.join("."), i.message]))).toEqual({
      email: "REQUIRED",
      password: "REQUIRED",
    });
    expect(SignInSchema.parse({ email: "a@example.com", password: "p", next: 5 }).next).toBeUndefined();
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
