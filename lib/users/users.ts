import "server-only";
import { db } from "@/lib/db/client";
import { hashPassword } from "@/lib/auth/password";
import type { AuthSource } from "@/lib/auth-sources";

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
export async function getUserStats(): Promise<{ total: number; admins: number; active: number; disabled: number }> {
  const [row] = await db().$queryRaw<{ total: bigint; admins: bigint; active: bigint; disabled: bigint }[]>`
    SELECT count(*) AS total,
           count(*) FILTER (WHERE role = 'admin') AS admins,
           count(*) FILTER (WHERE status = 'active') AS active,
           count(*) FILTER (WHERE status = 'disabled') AS disabled
    FROM users WHERE deleted_at IS NULL`;
  return { total: Number(row.total), admins: Number(row.admins), active: Number(row.active), disabled: Number(row.disabled) };
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
 * Create a user if the e-mail is free; an existing user is returned unchanged (its password and
 * role are never overwritten), which makes seeding and bootstrapping idempotent.
 */
export async function ensureUser(u: NewUser): Promise<{ id: number; created: boolean }> {
  const email = u.email.trim();
  const existing = await db().user.findFirst({ where: { email: { equals: email, mode: "insensitive" } }, select: { id: true } });
  if (existing) return { id: Number(existing.id), created: false };
  const created = await db().user.create({
    data: {
      email,
      passwordHash: await hashPassword(u.password),
      username: u.username ?? null,
      role: u.role ?? "user",
      signupSource: u.signupSource ?? "email",
      balance: u.balance ?? "0",
    },
    select: { id: true },
  });
  return { id: Number(created.id), created: true };
}

/**
 * The bootstrap admin from ADMIN_EMAIL / ADMIN_PASSWORD: created once when missing; an existing
 * account with that e-mail is left as it is (its password may have been changed since).
 */
export async function ensureBootstrapAdmin(email: string | undefined, password: string | undefined) {
  if (!email || !password) return null;
  return ensureUser({ email, password, role: "admin", username: "admin" });
}

/** Enable or disable a user (audited); disabling also ends all of their console sessions. */
export async function setUserStatus(
  id: number,
  status: "active" | "disabled",
  actor: { id: number; email: string },
): Promise<{ ok: true; user: UserDto } | { ok: false; code: "NOT_FOUND" }> {
  return db().$transaction(async (tx) => {
    const found = await tx.user.findFirst({ where: { id: BigInt(id), deletedAt: null }, select: { id: true, status: true } });
    if (!found) return { ok: false, code: "NOT_FOUND" } as const;
    const u = await tx.user.update({ where: { id: found.id }, data: { status }, select: userDtoSelect });
    if (status === "disabled") await tx.session.deleteMany({ where: { userId: found.id } });
    if (found.status !== status) {
      await tx.auditLog.create({
        data: {
          actorId: BigInt(actor.id),
          actorEmail: actor.email,
          action: "user.status.update",
          targetType: "user",
          targetId: String(id),
          changes: [{ key: "status", before: found.status, after: status }],
        },
      });
    }
    return { ok: true, user: toDto(u) } as const;
  });
}
