import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { verifyPassword } from "@/lib/auth/password";
import { DEMO_ADMIN, DEMO_USERS, seedDemo } from "@/lib/seed/demo";

import { rawDb } from "../support/db";

let c: pg.Client;
beforeAll(async () => {
  c = await rawDb();
});
afterAll(async () => {
  await c.end();
});

const snapshot = async () =>
  (
    await c.query(
      `SELECT id, email, username, password_hash, role, status, balance::text, signup_source, created_at, updated_at
       FROM users WHERE email = ANY($1) ORDER BY id`,
      [[DEMO_ADMIN.email, ...DEMO_USERS.map((u) => u.email)]],
    )
  ).rows;

describe("demo seed", () => {
  it("creates the admin and users from several sign-up sources, and a second run changes nothing", async () => {
    await seedDemo();
    const first = await snapshot();
    expect(first).toHaveLength(DEMO_USERS.length + 1);
    await seedDemo();
    expect(await snapshot()).toEqual(first);

    const admin = first.find((u) => u.email === DEMO_ADMIN.email)!;
    expect(admin.role).toBe("admin");
    expect(await verifyPassword(DEMO_ADMIN.password, admin.password_hash)).toBe(true);
    const sources = new Set(first.map((u) => u.signup_source));
    expect(sources.size).toBeGreaterThanOrEqual(5);
    expect(first.find((u) => u.signup_source === "linuxdo")!.email).toMatch(/@linuxdo-connect\.invalid$/);
    expect(first.filter((u) => u.status === "disabled")).toHaveLength(1);
  });

  // Guards issue 10 finding 1: with alice@example.com seeded, ADMIN_EMAIL=a_ice@example.com used to
  // "exist already" (ILIKE wildcard) and the seed reported an admin nobody could sign in as.
  it("creates the ADMIN_EMAIL admin when only a wildcard-lookalike account exists", async () => {
    await seedDemo();
    try {
      const r = await seedDemo({ adminEmail: "a_ice@example.com", adminPassword: "a-ice-root-pass" });
      expect(r.adminOutcome).toBe("created");
      const rows = (
        await c.query(
          "SELECT email, role, password_hash FROM users WHERE email IN ('a_ice@example.com', 'alice@example.com') ORDER BY email",
        )
      ).rows;
      expect(rows.map((u) => [u.email, u.role])).toEqual([
        ["a_ice@example.com", "admin"],
        ["alice@example.com", "user"],
      ]);
      expect(await verifyPassword("a-ice-root-pass", rows[0].password_hash)).toBe(true);
    } finally {
      await c.query("DELETE FROM users WHERE email = 'a_ice@example.com'");
    }
  });
});
