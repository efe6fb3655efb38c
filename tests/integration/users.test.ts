import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBootstrapAdmin, setUserStatus } from "@/lib/users/users";
import { rawDb } from "../support/db";

let c: pg.Client;
beforeAll(async () => {
  c = await rawDb();
});
afterAll(async () => {
  await c.query("DELETE FROM users WHERE email LIKE 'users-test-%'");
  await c.end();
});

describe("users domain", () => {
  it("creates the bootstrap admin once and never overwrites an existing account", async () => {
    const first = await ensureBootstrapAdmin("users-test-root@example.com", "first-password");
    expect(first).toMatchObject({ created: true });
    const before = (await c.query("SELECT password_hash, role FROM users WHERE id = $1", [first!.id])).rows[0];
    expect(before.role).toBe("admin");
    const again = await ensureBootstrapAdmin("USERS-TEST-ROOT@example.com", "another-password");
    expect(again).toEqual({ id: first!.id, created: false });
    const after = (await c.query("SELECT password_hash FROM users WHERE id = $1", [first!.id])).rows[0];
    expect(after.password_hash).toBe(before.password_hash);
    expect(await ensureBootstrapAdmin(undefined, "x")).toBeNull();
  });

  it("disabling a user ends their sessions; an unknown id is NOT_FOUND", async () => {
    const u = (await c.query("INSERT INTO users (email, password_hash) VALUES ('users-test-1@example.com', 'x') RETURNING id")).rows[0];
    await c.query("INSERT INTO console_sessions (token_hash, user_id, expires_at) VALUES ($1, $2, now() + interval '1 day')", [
      "a".repeat(64),
      u.id,
    ]);
    const r = await setUserStatus(Number(u.id), "disabled", { id: 1, email: "root@example.com" });
    expect(r).toMatchObject({ ok: true, user: { status: "disabled" } });
    const audit = await c.query("SELECT actor_email, action, changes FROM console_audit_logs WHERE target_type = 'user' AND target_id = $1", [String(u.id)]);
    expect(audit.rows).toEqual([
      { actor_email: "root@example.com", action: "user.status.update", changes: [{ key: "status", before: "active", after: "disabled" }] },
    ]);
    expect((await c.query("SELECT count(*)::int AS n FROM console_sessions WHERE user_id = $1", [u.id])).rows[0].n).toBe(0);
    expect(await setUserStatus(987654321, "active", { id: 1, email: "root@example.com" })).toEqual({ ok: false, code: "NOT_FOUND" });
  });
});
