"use server";

import { revalidatePath } from "next/cache";
import { z } from "zod";

import { fail, guardedAction } from "@/lib/actions/safe-action";
import { isPlatform } from "@/lib/billing/platforms";
import { appPlatforms } from "@/lib/db/platforms";
import { resetUserQuotaWindow, saveUserQuotas } from "@/lib/quota/admin";
import { quotaMapSchema, type QuotaMap } from "@/lib/settings/quota-schema";

const UserIdSchema = z
  .number("INVALID_ID")
  .int("INVALID_ID")
  .positive("INVALID_ID")
  .max(Number.MAX_SAFE_INTEGER, "INVALID_ID");
/** A platform of the registry (the live gateway's in attached mode). */
const platformSchema = (platforms: readonly string[]) =>
  z.string("UNKNOWN_PLATFORM").refine((p) => isPlatform(p, platforms), "UNKNOWN_PLATFORM");
/** The quota version the modal loaded (lib/quota/version.ts); a stale one is CONFLICT. */
const VersionSchema = z.string("INVALID_VERSION").min(1, "INVALID_VERSION").max(128, "INVALID_VERSION");

/**
 * The same platform → limits map the settings save takes (quotaMapSchema), so a field error's path
 * (`quotas.openai.daily`) is the cell's path. A platform left out is saved as unlimited: the map
 * always covers the whole registry (DESIGN §3.3), so a save never drops a platform.
 */
const saveSchema = (platforms: readonly string[]) =>
  z.strictObject({ userId: UserIdSchema, version: VersionSchema, quotas: quotaMapSchema(platforms) });

/** The one conversion: the matrix (a full registry map, in registry order) → the domain function's rows. */
const toRows = (quotas: QuotaMap) => Object.entries(quotas).map(([platform, limits]) => ({ platform, limits }));

/**
 * Admin: whole replace of one user's platform limits (the gateway's PUT …/platform-quotas), made from
 * `version`; a save over a newer change is CONFLICT and changes nothing.
 */
export const saveUserPlatformQuotasAction = guardedAction({
  role: "admin",
  schema: async () => saveSchema(await appPlatforms()),
  handler: async ({ userId, version, quotas }, { user }) => {
    const r = await saveUserQuotas(userId, toRows(quotas), { id: user.id, email: user.email }, version);
    if (!r.ok) return fail(r.code);
    revalidatePath("/[locale]/admin/users", "page");
    return { ok: true, data: { view: r.view, applied: r.applied } };
  },
});

/** Admin: reset one window's usage of one platform (the gateway's POST …/platform-quotas/reset). */
export const resetUserPlatformQuotaWindowAction = guardedAction({
  role: "admin",
  schema: async () =>
    z.strictObject({
      userId: UserIdSchema,
      platform: platformSchema(await appPlatforms()),
      window: z.enum(["daily", "weekly", "monthly"], "INVALID_WINDOW"),
    }),
  handler: async ({ userId, platform, window }, { user }) => {
    const r = await resetUserQuotaWindow(userId, platform, window, { id: user.id, email: user.email });
    if (!r.ok) return fail(r.code);
    revalidatePath("/[locale]/admin/users", "page");
    return { ok: true, data: { view: r.view, applied: r.applied } };
  },
});
