import { performance } from "node:perf_hooks";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { lookupSession, SESSION_CACHE_TTL_MS } from "@/lib/auth/session-cache";
import { hashSessionToken, newSessionToken } from "@/lib/auth/token";
import { pgPool } from "@/lib/db/client";
import { setUserRole, setUserStatus } from "@/lib/users/users";

import { rawDb } from "../support/db";

/**
 * The session lookup's in-process cache (lib/auth/session-cache.ts) against the real database: a
 * change made behind its back (another instance, the gateway, SQL) is seen within
 * SESSION_CACHE_TTL_MS — measured on the wall clock, not by passing a fake `now` — and a change
 * made through this process's own code paths at once.
 */
let c: pg.Client;
let admin: { id: number; email: string };
const PREFIX = "session-cache-test-";

const newUser = async (name: string, role: "admin" | "user" = "user") => {
  const email = `${PREFIX}${name}@example.com`;
  const { rows } = await c.query("INSERT INTO users (email, password_hash, role) VALUES ($1, 'x', $2) RETURNING id", [
    email,
    role,
  ]);
  return { id: Number(rows[0].id), email };
};
const newSession = async (userId: number, ttl = "1 hour") => {
  const hash = hashSessionToken(newSessionToken());
  await c.query(
    "INSERT INTO console_sessions (token_hash, user_id, expires_at) VALUES ($1, $2, now() + $3::interval)",
    [hash, userId, ttl],
  );
  return hash;
};
const lookup = (hash: string) => lookupSession(pgPool(), hash);

/** Polls until the lookup says `want` (or 3× the bound passed); returns the milliseconds it took. */
async function msUntil(hash: string, want: (u: Awaited<ReturnType<typeof lookup>>) => boolean): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const elapsed = performance.now() - t0;
    if (want(await lookup(hash))) return elapsed;
    if (elapsed > 3 * SESSION_CACHE_TTL_MS) return Infinity;
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  c = await rawDb();
  admin = await newUser("admin", "admin");
});
afterAll(async () => {
  await c.query("DELETE FROM users WHERE email LIKE $1", [`${PREFIX}%`]);
  await c.end();
});

describe("session lookup cache", () => {
  it("the bound is at most 5 s", () => {
    expect(SESSION_CACHE_TTL_MS).toBeGreaterThan(0);
    expect(SESSION_CACHE_TTL_MS).toBeLessThanOrEqual(5000);
  });

  it("a session deleted behind the cache's back stops working within the bound, not at once", async () => {
    const u = await newUser("revoked");
    const hash = await newSession(u.id);
    expect(await lookup(hash)).toEqual({ id: u.id, email: u.email, username: "", role: "user" });
    const revokedAt = performance.now();
    await c.query("DELETE FROM console_sessions WHERE token_hash = $1", [hash]);
    // Still served from the cache right after (what the cache is for)…
    expect(await lookup(hash)).not.toBeNull();
    // …and refused within the bound, counted from the revocation.
    expect(await msUntil(hash, (x) => x === null)).toBeLessThan(Infinity);
    expect(performance.now() - revokedAt).toBeLessThanOrEqual(SESSION_CACHE_TTL_MS + 250);
    expect(await lookup(hash)).toBeNull(); // and stays refused
  });

  it("a user disabled or soft-deleted in SQL is signed out within the bound", async () => {
    for (const change of [
      "UPDATE users SET status = 'disabled' WHERE id = $1",
      "UPDATE users SET deleted_at = now() WHERE id = $1",
    ]) {
      const u = await newUser(`sql-${change.includes("status") ? "disabled" : "deleted"}`);
      const hash = await newSession(u.id);
      expect(await lookup(hash)).not.toBeNull();
      const t0 = performance.now();
      await c.query(change, [u.id]);
      await msUntil(hash, (x) => x === null);
      expect(performance.now() - t0).toBeLessThanOrEqual(SESSION_CACHE_TTL_MS + 250);
    }
  });

  it("a role changed in SQL is read within the bound", async () => {
    const u = await newUser("promoted-in-sql");
    const hash = await newSession(u.id);
    expect((await lookup(hash))?.role).toBe("user");
    const t0 = performance.now();
    await c.query("UPDATE users SET role = 'admin' WHERE id = $1", [u.id]);
    await msUntil(hash, (x) => x?.role === "admin");
    expect(performance.now() - t0).toBeLessThanOrEqual(SESSION_CACHE_TTL_MS + 250);
  });

  it("a session past its expires_at is refused even while cached", async () => {
    const u = await newUser("expiring");
    const hash = await newSession(u.id, "300 milliseconds");
    expect(await lookup(hash)).not.toBeNull();
    await new Promise((r) => setTimeout(r, 400));
    expect(await lookup(hash)).toBeNull();
  });

  it("disabling or changing the role through the console's own code takes effect at once", async () => {
    const u = await newUser("disabled-here");
    const hash = await newSession(u.id);
    expect(await lookup(hash)).not.toBeNull();
    expect(await setUserStatus(u.id, "disabled", admin)).toMatchObject({ ok: true });
    expect(await lookup(hash)).toBeNull();

    // An admin demoting themselves keeps the session making the change: it reads the new role now.
    const self = await newUser("self-demoting", "admin");
    const kept = await newSession(self.id);
    expect((await lookup(kept))?.role).toBe("admin");
    expect(await setUserRole(self.id, "user", self, kept)).toMatchObject({ ok: true });
    expect(await lookup(kept)).toEqual({ id: self.id, email: self.email, username: "", role: "user" });
  });

  it("'not signed in' is never cached: a session created after a miss works on the next request", async () => {
    const u = await newUser("late");
    const hash = hashSessionToken(newSessionToken());
    expect(await lookup(hash)).toBeNull();
    await c.query(
      "INSERT INTO console_sessions (token_hash, user_id, expires_at) VALUES ($1, $2, now() + interval '1 hour')",
      [hash, u.id],
    );
    expect(await lookup(hash)).not.toBeNull();
  });
});
