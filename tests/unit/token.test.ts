import { describe, expect, it } from "vitest";

import { hashSessionToken, newSessionToken, signSessionToken, verifySessionCookie } from "@/lib/auth/token";

const secret = "s".repeat(64);

describe("session cookie tokens", () => {
  it("round-trips a signed token", () => {
    const token = newSessionToken();
    expect(verifySessionCookie(signSessionToken(token, secret), secret)).toBe(token);
  });

  it("issues 256-bit random tokens, never the same twice", () => {
    const a = newSessionToken();
    expect(Buffer.from(a, "base64url")).toHaveLength(32);
    expect(newSessionToken()).not.toBe(a);
  });

  // Guards against accepting forged or edited cookies: any change to token or MAC must fail.
  it("rejects a tampered token, a tampered MAC, another secret and malformed values", () => {
    const token = newSessionToken();
    const cookie = signSessionToken(token, secret);
    const [t, mac] = cookie.split(".");
    const flip = (s: string) => (s[0] === "A" ? "B" : "A") + s.slice(1);
    expect(verifySessionCookie(`${flip(t)}.${mac}`, secret)).toBeNull();
    expect(verifySessionCookie(`${t}.${flip(mac)}`, secret)).toBeNull();
    expect(verifySessionCookie(cookie, "x".repeat(64))).toBeNull();
    for (const bad of [undefined, "", ".", t, `${t}.`, `.${mac}`, `${t}.${mac}.x`, "a".repeat(500)]) {
      expect(verifySessionCookie(bad, secret)).toBeNull();
    }
  });

  it("stores only a SHA-256 of the token", () => {
    const h = hashSessionToken("abc");
    expect(h).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });
});
