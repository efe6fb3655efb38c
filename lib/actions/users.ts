"use server";

import { revalidatePath } from "next/cache";
import { z } from "zod";

import { fail, guardedAction } from "@/lib/actions/safe-action";
import { currentSessionTokenHash } from "@/lib/auth/session";
import { setUserRole, setUserStatus } from "@/lib/users/users";

const UserId = z
  .number("INVALID_ID")
  .int("INVALID_ID")
  .positive("INVALID_ID")
  .max(Number.MAX_SAFE_INTEGER, "INVALID_ID");

const SetUserStatusSchema = z.object({
  userId: UserId,
  status: z.enum(["active", "disabled"], "INVALID_STATUS"),
});

/** Admin: enable or disable a user account (disabling signs them out everywhere; never the last active admin). */
export const setUserStatusAction = guardedAction({
  role: "admin",
  schema: SetUserStatusSchema,
  handler: async ({ userId, status }, { user }) => {
    if (userId === user.id && status === "disabled") return fail("CANNOT_DISABLE_SELF");
    const r = await setUserStatus(userId, status, { id: user.id, email: user.email });
    if (!r.ok) return fail(r.code);
    revalidatePath("/[locale]/admin/users", "page");
    return { ok: true, data: r.user };
  },
});

const SetUserRoleSchema = z.strictObject({
  userId: UserId,
  role: z.enum(["admin", "user"], "INVALID_ROLE"),
});

/**
 * Admin: make a user an admin or an admin a user (audited). Ends that user's other sessions (all of
 * them, or all but this one for one's own role); never demotes the last active admin.
 */
export const setUserRoleAction = guardedAction({
  role: "admin",
  schema: SetUserRoleSchema,
  handler: async ({ userId, role }, { user }) => {
    const keep = userId === user.id ? await currentSessionTokenHash() : null;
    const r = await setUserRole(userId, role, { id: user.id, email: user.email }, keep);
    if (!r.ok) return fail(r.code);
    revalidatePath("/[locale]/admin/users", "page");
    return { ok: true, data: { user: r.user, endedSessions: r.endedSessions } };
  },
});
