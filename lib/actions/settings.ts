"use server";

import { revalidatePath } from "next/cache";
import { z } from "zod";

import { fail, guardedAction } from "@/lib/actions/safe-action";
import { appPlatforms } from "@/lib/db/platforms";
import { quotaDefaultsFormSchema } from "@/lib/settings/quota-schema";
import { saveRegistrationSetting } from "@/lib/settings/registration";
import { saveQuotaDefaults } from "@/lib/settings/store";

/**
 * Admin: save the quota defaults — system map, the 7 sources' override maps and grant switches —
 * as one whole replace. Any invalid cell fails the whole save (INVALID_INPUT with the cell's path);
 * a save over a newer one is CONFLICT.
 */
export const saveQuotaDefaultsAction = guardedAction({
  role: "admin",
  // Exactly the registry's platforms (the live gateway's in attached mode), no more, no fewer keys stored.
  schema: async () => quotaDefaultsFormSchema(await appPlatforms()),
  handler: async (form, { user }) => {
    const r = await saveQuotaDefaults(form, { id: user.id, email: user.email }, { platforms: await appPlatforms() });
    if (!r.ok) return fail(r.code);
    revalidatePath("/[locale]/admin/settings", "page");
    return { ok: true, data: { defaults: r.data, changed: r.changed } };
  },
});

/**
 * Admin: the console's registration switch (the admin's half; REGISTRATION_ENABLED is the
 * operator's). A save over a newer one is CONFLICT.
 */
export const saveRegistrationSettingAction = guardedAction({
  role: "admin",
  schema: z.object({
    enabled: z.boolean({ error: "INVALID_INPUT" }),
    version: z.string({ error: "INVALID_INPUT" }).max(64, "TOO_LONG"),
  }),
  handler: async (input, { user }) => {
    const r = await saveRegistrationSetting(input, { id: user.id, email: user.email });
    if (!r.ok) return fail(r.code);
    revalidatePath("/[locale]/admin/settings", "page");
    return { ok: true, data: { setting: r.data, changed: r.changed } };
  },
});
