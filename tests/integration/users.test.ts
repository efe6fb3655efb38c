import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

import { ensureBootstrapAdmin, setUserRole, setUserStatus } from "@/lib/users/users";

import { rawDb } from "../support/db";
import { ATTACHED } from "../support/gateway-fixture";

let c: pg.Client;
let root: { id: number; email: string };
/** Active admins of other tests, disabled while this file runs so the admin count is ours. */
let parked: string[] = [];
const newUser = async (name: string, role: "admin" | "user" = "user") => {
  const { rows } = await c.query("INSERT INTO users (email, password_hash, role) VALUES ($1, 'x', $2) RETURNING id", [
    `users-test-${name}@example.com`,
    role,
  ]);
  return { id: Number(rows[0].id), email: `users-test-${name}@example.com` };
};
const addSessions = async (userId: number, tag: string, n: number) => {
  const hashes = Array.from({ length: n }, (_, i) => `${tag}${i}`.padEnd(64, "0"));
  for (const h of hashes)
    await c.query(
      "INSERT INTO console_sessions (token_hash, user_id, expires_at) VALUES ($1, $2, now() + interval '1 day')",
      [h, userId],
    );
  return hashes;
};
const sessionsOf = async (userId: number) =>
  (await c.query("SELECT token_hash FROM console_sessions WHERE user_id = $1 ORDER BY token_hash", [userId])).rows.map(
    (r) => r.token_hash,
  );
const who = async (id: number) => (await c.query("SELECT role, status FROM users WHERE id = $1", [id])).rows[0];
const auditsOf = async (id: number) =>
  (
    await c.query(
      "SELECT actor_email, action, changes FROM console_audit_logs WHERE target_type = 'user' AND target_id = $1 ORDER BY id",
      [String(id)],
    )
  ).rows;
const activeAdmins = async () =>
  (
    await c.query(
      "SELECT count(*)::int AS n FROM users WHERE role = 'admin' AND status = 'active' AND deleted_at IS NULL",
    )
  ).rows[0].n;

beforeAll(async () => {
  c = await rawDb();
  root = await newUser("acting-admin", "admin");
});
afterAll(async () => {
  await c.query("DELETE FROM users WHERE email LIKE 'users-test-%'");
  await c.query("UPDATE users SET status = 'active' WHERE id = ANY($1::bigint[])", [parked]);
  await c.end();
});

describe("users domain", () => {
  it("creates the bootstrap admin once and never overwrites an existing account", async () => {
    const first = await ensureBootstrapAdmin("users-test-root@example.com", "first-password");
    expect(first).toMatchObject({ outcome: "created" });
    const before = (await c.query("SELECT password_hash, role FROM users WHERE id = $1", [first!.id])).rows[0];
    expect(before.role).toBe("admin");
    const again = await ensureBootstrapAdmin(" USERS-TEST-ROOT@example.com ", "another-password");
    expect(again).toEqual({ id: first!.id, outcome: "exists-admin" });
    const after = (await c.query("SELECT password_hash FROM users WHERE id = $1", [first!.id])).rows[0];
    expect(after.password_hash).toBe(before.password_hash);
    expect(await ensureBootstrapAdmin(undefined, "x")).toBeNull();
  });

  // Guards issue 10 finding 1: the bootstrap lookup was an ILIKE on the raw address, so `_`
  // matched any character and ADMIN_EMAIL=a_ice@… silently "found" alice and created no admin.
  it("matches ADMIN_EMAIL exactly: a_ice@… creates an admin next to alice@…", async () => {
    await c.query("INSERT INTO users (email, password_hash) VALUES ('users-test-alice@example.com', 'x')");
    const r = await ensureBootstrapAdmin("users-test-a_ice@example.com", "root-password");
    expect(r).toMatchObject({ outcome: "created" });
    const rows = (
      await c.query(
        "SELECT email, role FROM users WHERE email IN ('users-test-alice@example.com', 'users-test-a_ice@example.com') ORDER BY email",
      )
    ).rows;
    expect(rows).toEqual([
      { email: "users-test-a_ice@example.com", role: "admin" },
      { email: "users-test-alice@example.com", role: "user" },
    ]);
    const pct = await ensureBootstrapAdmin("users-test-%@example.com", "root-password");
    expect(pct).toMatchObject({ outcome: "created" });
  });

  it("says so when ADMIN_EMAIL is an existing non-admin account, and does not promote it", async () => {
    const u = (
      await c.query(
        "INSERT INTO users (email, password_hash) VALUES ('users-test-plain@example.com', 'x') RETURNING id",
      )
    ).rows[0];
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    try {
      const r = await ensureBootstrapAdmin("Users-Test-Plain@example.com", "root-password");
      expect(r).toEqual({ id: Number(u.id), outcome: "exists-not-admin" });
      expect(warn.mock.calls.flat().join("\n")).toMatch(/exists as a non-admin account: not promoted/);
    } finally {
      warn.mockRestore();
    }
    expect((await c.query("SELECT role, password_hash FROM users WHERE id = $1", [u.id])).rows[0]).toEqual({
      role: "user",
      password_hash: "x",
    });
  });

  it("creates one account when several instances bootstrap the same admin at once", async () => {
    const spellings = [
      "users-test-race@example.com",
      "USERS-TEST-RACE@example.com",
      " users-test-race@example.com",
      "Users-Test-Race@Example.com",
    ];
    const results = await Promise.all(spellings.map((e) => ensureBootstrapAdmin(e, "root-password")));
    expect(results.filter((r) => r?.outcome === "created")).toHaveLength(1);
    expect(new Set(results.map((r) => r?.id)).size).toBe(1);
    expect(
      (await c.query("SELECT count(*)::int AS n FROM users WHERE lower(trim(email)) = 'users-test-race@example.com'"))
        .rows[0].n,
    ).toBe(1);
  });

  it("disabling a user ends their sessions; an unknown id is NOT_FOUND", async () => {
    const u = (
      await c.query("INSERT INTO users (email, password_hash) VALUES ('users-test-1@example.com', 'x') RETURNING id")
    ).rows[0];
    await c.query(
      "INSERT INTO console_sessions (token_hash, user_id, expires_at) VALUES ($1, $2, now() + interval '1 day')",
      ["a".repeat(64), u.id],
    );
    const r = await setUserStatus(Number(u.id), "disabled", root);
    expect(r).toMatchObject({ ok: true, user: { status: "disabled" } });
    const audit = await c.query(
      "SELECT actor_email, action, changes FROM console_audit_logs WHERE target_type = 'user' AND target_id = $1",
      [String(u.id)],
    );
    expect(audit.rows).toEqual([
      {
        actor_email: root.email,
        action: "user.status.update",
        changes: [{ key: "status", before: "active", after: "disabled" }],
      },
    ]);
    expect(
      (await c.query("SELECT count(*)::int AS n FROM console_sessions WHERE user_id = $1", [u.id])).rows[0].n,
    ).toBe(0);
    expect(await setUserStatus(987654321, "active", root)).toEqual({ ok: false, code: "NOT_FOUND" });
  });

  // Attached, the gateway's trg_users_auth_cache_invalidation (fixture: its equivalent) turns a
  // status or role change into outbox rows for the user's live API keys; the console's writes must
  // be plain UPDATEs it fires on, never a path around it. Standalone there is no trigger to feed.
  it.runIf(ATTACHED)(
    "an admin's disable and role change feed the gateway's auth-cache outbox for each live key",
    async () => {
      const u = await newUser("outbox");
      await c.query(
        `INSERT INTO api_keys (user_id, key, name, deleted_at) VALUES
         ($1, 'sk-users-test-live-1', 'a', NULL), ($1, 'sk-users-test-live-2', 'b', NULL), ($1, 'sk-users-test-gone', 'c', now())`,
        [u.id],
      );
      const rows = async () =>
        (
          await c.query(
            `SELECT cache_key FROM auth_cache_invalidation_outbox
            WHERE cache_key IN (encode(sha256('sk-users-test-live-1'), 'hex'), encode(sha256('sk-users-test-live-2'), 'hex'),
                                encode(sha256('sk-users-test-gone'), 'hex'))
            ORDER BY id`,
          )
        ).rows.map((r) => r.cache_key);
      const live = [
        (await c.query("SELECT encode(sha256('sk-users-test-live-1'), 'hex') AS k")).rows[0].k,
        (await c.query("SELECT encode(sha256('sk-users-test-live-2'), 'hex') AS k")).rows[0].k,
      ].sort();
      expect(await rows()).toEqual([]);
      expect(await setUserStatus(u.id, "disabled", root)).toMatchObject({ ok: true });
      expect((await rows()).sort()).toEqual(live);
      expect(await setUserStatus(u.id, "active", root)).toMatchObject({ ok: true });
      expect(await setUserRole(u.id, "admin", root)).toMatchObject({ ok: true });
      expect(await setUserRole(u.id, "user", root)).toMatchObject({ ok: true });
      // disable, enable, promote, demote: four changes, one row per live key each
      expect((await rows()).sort()).toEqual([...live, ...live, ...live, ...live].sort());
      await c.query("DELETE FROM auth_cache_invalidation_outbox WHERE cache_key = ANY($1::text[])", [live]);
    },
  );
});

describe("the last active admin", () => {
  beforeAll(async () => {
    parked = (
      await c.query(
        "UPDATE users SET status = 'disabled' WHERE role = 'admin' AND status = 'active' AND deleted_at IS NULL AND id <> $1 RETURNING id",
        [root.id],
      )
    ).rows.map((r) => r.id);
  });

  it("cannot be disabled or demoted; with a second admin both work; a non-admin actor changes nothing", async () => {
    const second = await newUser("second");
    expect(await activeAdmins()).toBe(1);
    expect(await setUserRole(root.id, "user", root)).toEqual({ ok: false, code: "LAST_ADMIN" });
    expect(await setUserStatus(root.id, "disabled", root)).toEqual({ ok: false, code: "CANNOT_DISABLE_SELF" });
    // A stale admin screen of someone who is no longer an admin: refused under the lock.
    expect(await setUserStatus(root.id, "disabled", second)).toEqual({ ok: false, code: "FORBIDDEN" });
    expect(await setUserRole(second.id, "admin", second)).toEqual({ ok: false, code: "FORBIDDEN" });
    expect(await who(root.id)).toEqual({ role: "admin", status: "active" });
    expect(await auditsOf(root.id)).toEqual([]);

    expect(await setUserRole(second.id, "admin", root)).toMatchObject({ ok: true, user: { role: "admin" } });
    expect(await setUserStatus(root.id, "disabled", second)).toMatchObject({ ok: true, user: { status: "disabled" } });
    // Now `second` is the only active admin (root is a disabled admin).
    expect(await setUserRole(second.id, "user", second)).toEqual({ ok: false, code: "LAST_ADMIN" });
    expect(await setUserRole(root.id, "user", second)).toMatchObject({ ok: true }); // demoting a disabled admin leaves `second`
    expect(await setUserRole(root.id, "admin", second)).toMatchObject({ ok: true });
    expect(await setUserStatus(root.id, "active", second)).toMatchObject({ ok: true });
    expect(await setUserRole(second.id, "user", root)).toMatchObject({ ok: true, user: { role: "user" } });
    expect(await activeAdmins()).toBe(1);
    expect((await auditsOf(second.id)).map((a) => [a.action, a.changes[0]])).toEqual([
      ["user.role.update", { key: "role", before: "user", after: "admin" }],
      ["user.role.update", { key: "role", before: "admin", after: "user" }],
    ]);
  });

  // Guards the race of issue 10 §7: without the lock both checks saw two admins and both disables
  // (or demotions) committed, leaving no active admin. The blocker holds both rows so the two
  // changes are certainly in flight together — each on its own connection — when it lets go.
  it.each([
    ["both disable the other", "status", "status"],
    ["both demote the other", "role", "role"],
    ["one disables, the other demotes", "status", "role"],
  ] as const)("two admins at once — %s: exactly one wins, one active admin is left", async (_name, kindA, kindB) => {
    const a = await newUser(`race-a-${kindA}-${kindB}`, "admin");
    const b = await newUser(`race-b-${kindA}-${kindB}`, "admin");
    await c.query("UPDATE users SET status = 'disabled' WHERE id = $1", [root.id]); // a and b are the only active admins
    try {
      const change = (kind: "status" | "role", target: typeof a, actor: typeof a) =>
        kind === "status" ? setUserStatus(target.id, "disabled", actor) : setUserRole(target.id, "user", actor);
      const blocker = await rawDb();
      await blocker.query("BEGIN");
      await blocker.query("SELECT id FROM users WHERE id = ANY($1::bigint[]) FOR UPDATE", [[a.id, b.id]]);
      const both = Promise.all([change(kindA, b, a), change(kindB, a, b)]);
      // Wait until both transactions are queued behind the blocker's row locks.
      await expect
        .poll(
          async () =>
            (
              await c.query(
                "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
              )
            ).rows[0].n,
          {
            timeout: 10_000,
            interval: 20,
          },
        )
        .toBe(2);
      await blocker.query("COMMIT");
      await blocker.end();
      const results = await both;
      expect(results.filter((r) => r.ok)).toHaveLength(1);
      expect(results.find((r) => !r.ok)).toMatchObject({
        ok: false,
        code: expect.stringMatching(/^(FORBIDDEN|LAST_ADMIN)$/),
      });
      expect(await activeAdmins()).toBe(1);
    } finally {
      await c.query("UPDATE users SET status = 'active' WHERE id = $1", [root.id]);
      await c.query("DELETE FROM users WHERE id = ANY($1::bigint[])", [[a.id, b.id]]);
    }
  });
});

describe("role changes end sessions", () => {
  it("promoting or demoting someone ends all of their sessions, audited; an unchanged role ends none", async () => {
    const u = await newUser("promoted");
    await addSessions(u.id, "p", 3);
    const r = await setUserRole(u.id, "admin", root);
    expect(r).toMatchObject({ ok: true, user: { role: "admin" }, endedSessions: 3 });
    expect(await sessionsOf(u.id)).toEqual([]);
    await addSessions(u.id, "q", 2);
    expect(await setUserRole(u.id, "admin", root)).toMatchObject({ ok: true, endedSessions: 0 });
    expect(await sessionsOf(u.id)).toHaveLength(2);
    expect(await setUserRole(u.id, "user", root, "q0".padEnd(64, "0"))).toMatchObject({ ok: true, endedSessions: 2 }); // not one's own: nothing kept
    expect(await sessionsOf(u.id)).toEqual([]);
    expect((await auditsOf(u.id)).map((a) => a.changes)).toEqual([
      [
        { key: "role", before: "user", after: "admin" },
        { key: "sessions_ended", before: null, after: 3 },
      ],
      [
        { key: "role", before: "admin", after: "user" },
        { key: "sessions_ended", before: null, after: 2 },
      ],
    ]);
    expect(await setUserRole(987654321, "admin", root)).toEqual({ ok: false, code: "NOT_FOUND" });
  });

  it("admins changing their own role keep only the session they did it from", async () => {
    const other = await newUser("self-other", "admin");
    const self = await newUser("self", "admin");
    const [, current] = await addSessions(self.id, "s", 3);
    expect(await setUserRole(self.id, "user", self, current)).toMatchObject({ ok: true, endedSessions: 2 });
    expect(await sessionsOf(self.id)).toEqual([current]);
    expect(await who(self.id)).toEqual({ role: "user", status: "active" });
    await c.query("DELETE FROM users WHERE id = ANY($1::bigint[])", [[other.id, self.id]]);
  });
});
