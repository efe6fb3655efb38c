import { describe, expect, it } from "vitest";

import { DUMMY_HASH, hashPassword, MAX_PASSWORD_BYTES, verifyPassword } from "@/lib/auth/password";

describe("bcrypt passwords (Go gateway compatible)", () => {
  it("verifies a hash produced by Go's golang.org/x/crypto/bcrypt", async () => {
    // The vector from x/crypto/bcrypt's own test suite (cost 10, $2a$).
    const goHash = "$2a$10$XajjQvNhvvRt5GSeFk1xFeyqRrsxkhBkUiQeg0dt.wU1qD4aFDcga";
    expect(await verifyPassword("allmine", goHash)).toBe(true);
    expect(await verifyPassword("allmine!", goHash)).toBe(false);
  });

  it("writes $2a$ cost-10 hashes, as Go does, that verify", async () => {
    const h = await hashPassword("correct horse battery staple");
    expect(h).toMatch(/^\$2a\$10\$[./A-Za-z0-9]{53}$/);
    expect(await verifyPassword("correct horse battery staple", h)).toBe(true);
    expect(await verifyPassword("correct horse battery stapl", h)).toBe(false);
  });

  it("refuses passwords bcrypt would silently truncate", async () => {
    await expect(hashPassword("x".repeat(MAX_PASSWORD_BYTES + 1))).rejects.toThrow();
    await expect(hashPassword("密".repeat(25))).rejects.toThrow(); // 75 bytes in UTF-8
  });

  it("treats anything that is not a bcrypt hash as a mismatch", async () => {
    for (const bad of ["", "plain", "$1$abc$def", "$2a$1"]) expect(await verifyPassword("x", bad)).toBe(false);
    expect(await verifyPassword("", DUMMY_HASH)).toBe(false);
  });
});
