"use server";

import { revalidatePath } from "next/cache";
import { z } from "zod";
import { fail, guardedAction } from "@/lib/actions/safe-action";
import { setUserStatus } from "@/lib/users/users";

const SetUserStatusSchema = z.object({
  userId: z.number().int("INVALID_ID").positive("INVALID_ID").max(Number.MAX_SAFE_INTEGER, "INVALID_ID"),
  status: z.enum(["active", "disabled"], "INVALID_STATUS"),
});

/** Admin: enable or disable a user account (disabling signs them out everywhere). */
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
