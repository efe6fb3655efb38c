import * as zxcvbnEn from "@zxcvbn-ts/language-en";
import { describe, expect, it } from "vitest";

import { checkPasswordPolicy, MIN_PASSWORD_SCORE, passwordUserInputs } from "@/lib/auth/password-policy";
import en from "@/messages/en.json";
import zh from "@/messages/zh.json";

/**
 * The password policy (issue 10: `12345678` was accepted). Length in characters, at most 72
 * bytes for bcrypt, and a zxcvbn-ts score of at least 3 with the e-mail as user input.
 */
describe("checkPasswordPolicy", () => {
  it("refuses 12345678 as too easy to guess, and says why (a key the forms translate)", () => {
    const r = checkPasswordPolicy("12345678", { email: "new@example.com" });
    expect(r).toMatchObject({ ok: false, code: "PASSWORD_WEAK", feedback: { warning: "topTen" } });
    if (r.ok || r.code !== "PASSWORD_WEAK") throw new Error("unreachable");
    expect(r.score).toBeLessThan(MIN_PASSWORD_SCORE);
    expect(en.PasswordPolicy.warning.topTen).toBe("It is one of the most used passwords.");
    expect(zh.PasswordPolicy.warning.topTen).toBe("这是最常用的密码之一。");
    for (const s of r.feedback.suggestions) expect(Object.keys(en.PasswordPolicy.suggestion)).toContain(s);
  });

  it.each(["password", "qwertyuiop", "iloveyou1", "P@ssw0rd1", "11111111", "abcdefgh"])(
    "refuses the common password %s",
    (p) => {
      expect(checkPasswordPolicy(p)).toMatchObject({ ok: false, code: "PASSWORD_WEAK" });
    },
  );

  // Guards the e-mail being used as user input: the same password is strong for someone else.
  it("refuses a password built from the user's own address, which is strong for anyone else", () => {
    expect(checkPasswordPolicy("corp-mail.cn2024", { email: "someone@example.org" })).toMatchObject({ ok: true });
    expect(checkPasswordPolicy("corp-mail.cn2024", { email: "zhang.wei@corp-mail.cn" })).toMatchObject({
      ok: false,
      code: "PASSWORD_WEAK",
      feedback: { warning: "userInputs" },
    });
    expect(checkPasswordPolicy("Zhang.Wei@corp-mail.cn", { email: "zhang.wei@corp-mail.cn" })).toMatchObject({
      ok: false,
      code: "PASSWORD_WEAK",
    });
  });

  it("accepts long, uncommon passphrases and random strings", () => {
    for (const p of ["correct horse battery staple", "long-enough-password", "kX9#mP2$vL", "银河-铁道-晚餐-7"]) {
      expect(checkPasswordPolicy(p, { email: "alice@example.com" }), p).toMatchObject({ ok: true });
    }
  });

  it("counts characters, not bytes, for the minimum and bytes for bcrypt's 72", () => {
    expect(checkPasswordPolicy("Zq9!xk2")).toEqual({ ok: false, code: "PASSWORD_TOO_SHORT" });
    expect(checkPasswordPolicy("")).toEqual({ ok: false, code: "PASSWORD_TOO_SHORT" });
    expect(checkPasswordPolicy("😀😀😀😀😀😀😀")).toEqual({ ok: false, code: "PASSWORD_TOO_SHORT" }); // 7 characters, 14 UTF-16 units
    expect(checkPasswordPolicy("x".repeat(73))).toEqual({ ok: false, code: "TOO_LONG" });
    expect(checkPasswordPolicy("密".repeat(25))).toEqual({ ok: false, code: "TOO_LONG" }); // 25 characters, 75 bytes
  });

  it("passes the address, its parts and the product's words to the estimator", () => {
    expect(passwordUserInputs(" Zhang.Wei@Corp-Mail.cn ")).toEqual(
      expect.arrayContaining([
        "zhang.wei@corp-mail.cn",
        "zhang.wei",
        "corp-mail.cn",
        "zhang",
        "wei",
        "corp-mail",
        "quota",
        "sub2api",
      ]),
    );
    expect(passwordUserInputs(undefined)).toEqual(["quota", "console", "sub2api", "gateway"]);
  });

  it("has a message in both languages for every warning and suggestion the estimator can give", () => {
    for (const k of Object.keys(zxcvbnEn.translations.warnings)) {
      expect(en.PasswordPolicy.warning, k).toHaveProperty(k);
      expect(zh.PasswordPolicy.warning, k).toHaveProperty(k);
    }
    for (const k of Object.keys(zxcvbnEn.translations.suggestions)) {
      expect(en.PasswordPolicy.suggestion, k).toHaveProperty(k);
      expect(zh.PasswordPolicy.suggestion, k).toHaveProperty(k);
    }
  });
});
