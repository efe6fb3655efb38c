import "server-only";

import { recordAudit, type AuditActor } from "@/lib/audit/audit";
import type { AuthSource } from "@/lib/auth-sources";
import { emailAdvisoryLockKey, emailMatchSql, normalizeEmail } from "@/lib/auth/email";
import { hashPassword } from "@/lib/auth/password";
import { forgetUserSessions } from "@/lib/auth/session-cache";
import { db, pgPool } from "@/lib/db/client";

import { countedStats, listScale } from "./list-counts";
import { USER_STATS_SQL } from "./list-sql";

/** A user as pages see it: plain JSON, no secrets, no BigInt/Decimal. */
export type UserDto = {
  id: number;
  email: string;
  username: string | null;
  role: "admin" | "user";
  status: "active" | "disabled";
  balance: string;
  signupSource: string;
  createdAt: string;
};

const userDtoSelect = {
  id: true,
  email: true,
  username: true,
  role: true,
  status: true,
  balance: true,
  signupSource: true,
  createdAt: true,
} as const;

type UserRow = {
  id: bigint;
  email: string;
  username: string | null;
  role: string;
  status: string;
  balance: { toFixed(dp: number): string };
  signupSource: string;
  createdAt: Date;
};

function toDto(u: UserRow): UserDto {
  return {
    id: Number(u.id),
    email: u.email,
    username: u.username,
    role: u.role === "admin" ? "admin" : "user",
    status: u.status === "disabled" ? "disabled" : "active",
    balance: u.balance.toFixed(2),
    signupSource: u.signupSource,
    createdAt: u.createdAt.toISOString(),
  };
}

/** One user by id (not soft-deleted), as a DTO. */
export async function getUser(id: number): Promise<UserDto | null> {
  const u = await db().user.findFirst({ where: { id: BigInt(id), deletedAt: null }, select: userDtoSelect });
  return u ? toDto(u) : null;
}

/** Counts for the admin overview, in one query. */
/**
 * The users page's four counters: counted live, or above LIVE_LIST_MAX_USERS users from the recorded
 * counts (at most RECOUNT_MS + one recount old; lib/users/list-counts.ts) while they are recent.
 */
export async function getUserStats(): Promise<{ total: number; admins: number; active: number; disabled: number }> {
  if ((await listScale(pgPool())) === "keys") {
    const counted = await countedStats(pgPool());
    if (counted) return counted;
  }
  const [row] =
    await db().$queryRawUnsafe<{ total: bigint; admins: bigint; active: bigint; disabled: bigint }[]>(USER_STATS_SQL);
  return {
    total: Number(row.total),
    admins: Number(row.admins),
    active: Number(row.active),
    disabled: Number(row.disabled),
  };
}

export type NewUser = {
  email: string;
  password: string;
  username?: string | null;
  role?: "admin" | "user";
  signupSource?: AuthSource;
  balance?: string;
};

/**
 * Create a user if no account has this address yet; an existing one is returned unchanged (its
 * password and role are never overwritten), which makes seeding and bootstrapping idempotent.
 * "This address" is the gateway's identity, `lower(trim(email))` compared exactly (never a
 * pattern: `_` is a character, not a wildcard). The check and the insert run under the gateway's
 * advisory lock for the address, so concurrent starts create one account.
 */
export async function ensureUser(u: NewUser): Promise<{ id: number; created: boolean; role: "admin" | "user" }> {
  const email = normalizeEmail(u.email);
  const passwordHash = await hashPassword(u.password);
  return db().$transaction(async (tx) => {
    await tx.$executeRaw`SELECT pg_advisory_xact_lock(${emailAdvisoryLockKey(email)})`;
    const existing = await tx.$queryRawUnsafe<{ id: bigint; role: string }[]>(
      `SELECT id, role FROM users WHERE ${emailMatchSql(1)} AND deleted_at IS NULL ORDER BY id LIMIT 1`,
      email,
    );
    if (existing[0])
      return {
        id: Number(existing[0].id),
        created: false,
        role: existing[0].role === "admin" ? "admin" : "user",
      } as const;
    const created = await tx.user.create({
      data: {
        email,
        passwordHash,
        // Unset: the column's default (the gateway's is NOT NULL DEFAULT '').
        ...(u.username != null ? { username: u.username } : {}),
        role: u.role ?? "user",
        signupSource: u.signupSource ?? "email",
        balance: u.balance ?? "0",
      },
      select: { id: true },
    });
    return { id: Number(created.id), created: true, role: u.role ?? "user" } as const;
  });
}

export type BootstrapAdminResult = { id: number; outcome: "created" | "exists-admin" | "exists-not-admin" };

/**
 * The bootstrap admin from ADMIN_EMAIL / ADMIN_PASSWORD: created once when missing. An existing
 * account with that address is left as it is (its password may have been changed since) and is
 * never promoted; the outcome says which case happened, and is logged, so an operator whose
 * ADMIN_EMAIL names an ordinary user learns why no admin appeared.
 */
export async function ensureBootstrapAdmin(
  email: string | undefined,
  password: string | undefined,
): Promise<BootstrapAdminResult | null> {
  if (!email || !password) return null;
  const r = await ensureUser({ email, password, role: "admin", username: "admin" });
  const outcome = r.created ? "created" : r.role === "admin" ? "exists-admin" : "exists-not-admin";
  const who = `${normalizeEmail(email)} (user ${r.id})`;
  if (outcome === "created") console.log(`[bootstrap] created admin ${who}`);
  else if (outcome === "exists-admin") console.log(`[bootstrap] admin ${who} exists already; password left unchanged`);
  else console.warn(`[bootstrap] ADMIN_EMAIL ${who} exists as a non-admin account: not promoted, no admin created`);
  return { id: r.id, outcome };
}

/** Who changes; `undoOf`: the audit entry this change undoes (lib/audit/undo.ts). */
type Actor = AuditActor;
/** Undo's guard: the change applies only while the target still has this value (checked under the row lock). */
type Expect<T> = { expect?: T };
type Tx = Parameters<Parameters<ReturnType<typeof db>["$transaction"]>[0]>[0];

/**
 * The lock every status and role change takes first, so "the last active admin cannot be disabled
 * or demoted" holds under concurrency: every active admin row (id order, so two of these never
 * deadlock), then the target row. Two admins disabling each other at once: the second waits, then
 * re-reads the admin set without the first's target and is refused. Returns null when the target
 * does not exist.
 */
async function lockAdminsAndTarget(tx: Tx, id: number) {
  const admins = await tx.$queryRaw<{ id: bigint }[]>`
    SELECT id FROM users WHERE role = 'admin' AND status = 'active' AND deleted_at IS NULL ORDER BY id FOR UPDATE`;
  const [target] = await tx.$queryRaw<{ id: bigint; role: string; status: string }[]>`
    SELECT id, role, status FROM users WHERE id = ${BigInt(id)} AND deleted_at IS NULL FOR UPDATE`;
  const activeAdmins = new Set(admins.map((a) => Number(a.id)));
  return target ? { target, activeAdmins } : null;
}

export type AdminRuleCode = "NOT_FOUND" | "FORBIDDEN" | "LAST_ADMIN" | "CANNOT_DISABLE_SELF";

/**
 * Enable or disable a user (audited); disabling also ends all of their console sessions. Refused
 * (nothing changed) for the last active admin, for oneself, and when the actor is no longer an
 * active admin by the time the locks are held.
 */
export async function setUserStatus(
  id: number,
  status: "active" | "disabled",
  actor: Actor,
  opts: Expect<"active" | "disabled"> = {},
): Promise<{ ok: true; user: UserDto } | { ok: false; code: AdminRuleCode | "CONFLICT" }> {
  const result = await db().$transaction(async (tx) => {
    const locked = await lockAdminsAndTarget(tx, id);
    if (!locked) return { ok: false, code: "NOT_FOUND" } as const;
    const { target, activeAdmins } = locked;
    if (!activeAdmins.has(actor.id)) return { ok: false, code: "FORBIDDEN" } as const;
    if (opts.expect !== undefined && target.status !== opts.expect) return { ok: false, code: "CONFLICT" } as const;
    if (status === "disabled" && id === actor.id) return { ok: false, code: "CANNOT_DISABLE_SELF" } as const;
    if (status === "disabled" && activeAdmins.has(id) && activeAdmins.size <= 1)
      return { ok: false, code: "LAST_ADMIN" } as const;
    const u = await tx.user.update({ where: { id: target.id }, data: { status }, select: userDtoSelect });
    if (status === "disabled") await tx.session.deleteMany({ where: { userId: target.id } });
    if (target.status !== status) {
      await recordAudit(tx, {
        actor,
        action: "user.status.update",
        targetType: "user",
        targetId: String(id),
        changes: [{ key: "status", before: target.status, after: status }],
      });
    }
    return { ok: true, user: toDto(u) } as const;
  });
  forgetUserSessions(id); // after the commit: this process's next request reads the new status
  return result;
}

/**
 * Make a user an admin or an admin a user (audited). A change ends every console session of that
 * user — a promoted session was opened with less trust, a demoted one must not outlive it — except,
 * when admins change their own role, the session making the change (`keepSessionTokenHash`).
 * Refused (nothing changed) for the last active admin and when the actor is no longer an active admin.
 */
export async function setUserRole(
  id: number,
  role: "admin" | "user",
  actor: Actor,
  keepSessionTokenHash: string | null = null,
  opts: Expect<"admin" | "user"> = {},
): Promise<
  | { ok: true; user: UserDto; endedSessions: number }
  | { ok: false; code: Exclude<AdminRuleCode, "CANNOT_DISABLE_SELF"> | "CONFLICT" }
> {
  const result = await db().$transaction(async (tx) => {
    const locked = await lockAdminsAndTarget(tx, id);
    if (!locked) return { ok: false, code: "NOT_FOUND" } as const;
    const { target, activeAdmins } = locked;
    if (!activeAdmins.has(actor.id)) return { ok: false, code: "FORBIDDEN" } as const;
    if (opts.expect !== undefined && target.role !== opts.expect) return { ok: false, code: "CONFLICT" } as const;
    if (role === "user" && activeAdmins.has(id) && activeAdmins.size <= 1)
      return { ok: false, code: "LAST_ADMIN" } as const;
    if (target.role === role) {
      const same = await tx.user.findUniqueOrThrow({ where: { id: target.id }, select: userDtoSelect });
      return { ok: true, user: toDto(same), endedSessions: 0 } as const;
    }
    const u = await tx.user.update({ where: { id: target.id }, data: { role }, select: userDtoSelect });
    const keep = id === actor.id && keepSessionTokenHash ? keepSessionTokenHash : null;
    const ended = await tx.session.deleteMany({
      where: { userId: target.id, ...(keep ? { tokenHash: { not: keep } } : {}) },
    });
    await recordAudit(tx, {
      actor,
      action: "user.role.update",
      targetType: "user",
      targetId: String(id),
      changes: [
        { key: "role", before: target.role, after: role },
        { key: "sessions_ended", before: null, after: ended.count },
      ],
    });
    return { ok: true, user: toDto(u), endedSessions: ended.count } as const;
  });
  forgetUserSessions(id); // after the commit, the kept session too: it reads the new role
  return result;
}
