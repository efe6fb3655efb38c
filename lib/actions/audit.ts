"use server";

import { revalidatePath } from "next/cache";
import { z } from "zod";

import { fail, guardedAction } from "@/lib/actions/safe-action";
import { undoAuditEntry } from "@/lib/audit/undo";

/**
 * Admin: undo an audit entry (a per-user quota save, a quota defaults save, a user's status or role
 * change) as a new audited change restoring its "before" values; UNDO_CONFLICT when those values
 * changed since. The role is
 * checked before the input is parsed (guardedAction).
 */
export const undoAuditEntryAction = guardedAction({
  role: "admin",
  schema: z.strictObject({
    entryId: z.number("INVALID_ID").int("INVALID_ID").positive("INVALID_ID").max(Number.MAX_SAFE_INTEGER, "INVALID_ID"),
  }),
  handler: async ({ entryId }, { user }) => {
    const r = await undoAuditEntry(entryId, { id: user.id, email: user.email });
    if (!r.ok) return fail(r.code);
    revalidatePath("/[locale]/admin/audit", "page");
    revalidatePath(
      r.action === "settings.quota_defaults.update" ? "/[locale]/admin/settings" : "/[locale]/admin/users",
      "page",
    );
    return { ok: true, data: { changed: r.changed } };
  },
});
