import { describe, expect, it } from "vitest";

import { emailAdvisoryLockKey, emailMatchSql, fnv64a, normalizeEmail } from "@/lib/auth/email";

describe("e-mail identity (the gateway's lower(trim(email)))", () => {
  it("normalises by trimming and lower-casing only: `_` and `%` stay literal characters", () => {
    expect(normalizeEmail("  Alice@Example.COM \t")).toBe("alice@example.com");
    expect(normalizeEmail("a_ice@example.com")).toBe("a_ice@example.com");
    expect(normalizeEmail("%@example.com")).toBe("%@example.com");
  });

  it("binds the address as a parameter in the gateway's predicate", () => {
    expect(emailMatchSql(1)).toBe("lower(trim(email)) = lower(trim($1))");
    expect(emailMatchSql(3, "u.email")).toBe("lower(trim(u.email)) = lower(trim($3))");
  });

  // Published FNV-1a 64-bit test vectors (Fowler/Noll/Vo reference, also Go's hash/fnv tests).
  it.each([
    ["", 0xcbf29ce484222325n],
    ["a", 0xaf63dc4c8601ec8cn],
    ["foobar", 0x85944171f73967e8n],
  ])("fnv64a(%j) matches the reference vector", (s, h) => {
    expect(fnv64a(s)).toBe(h);
  });

  it('the sign-up lock key is int64(fnv64a("users:normalized-email:" + normalised)), the gateway\'s advisoryLockHash', () => {
    const key = emailAdvisoryLockKey(" Bob@Example.org ");
    expect(key).toBe(BigInt.asIntN(64, fnv64a("users:normalized-email:bob@example.org")));
    expect(key).toBe(emailAdvisoryLockKey("bob@example.org"));
    expect(key >= -(2n ** 63n) && key < 2n ** 63n).toBe(true);
  });
});
