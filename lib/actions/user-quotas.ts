"use server";

import { revalidatePath } from "next/cache";
import { z } from "zod";

import { fail, guardedAction } from "@/lib/actions/safe-action";
import { isPlatform, PLATFORMS } from "@/lib/billing/platforms";
import { resetUserQuotaWindow, saveUserQuotas } from "@/lib/quota/admin";
import { LimitSchema } from "@/lib/settings/quota-schema";

const UserId = z
  .number("INVALID_ID")
  .int("INVALID_ID")
  .positive("INVALID_ID")
  .max(Number.MAX_SAFE_INTEGER, "INVALID_ID");
const Platform = z.string("UNKNOWN_PLATFORM").refine(isPlatform, "UNKNOWN_PLATFORM");
/** The quota version the modal loaded (lib/quota/version.ts); a stale one is CONFLICT. */
const Version = z.string("INVALID_VERSION").min(1, "INVALID_VERSION").max(128, "INVALID_VERSION");

const SaveSchema = z
  .strictObject({
    userId: UserId,
    version: Version,
    quotas: z
      .array(
        z.strictObject({
          platform: Platform,
          daily_limit_usd: LimitSchema,
          weekly_limit_usd: LimitSchema,
          monthly_limit_usd: LimitSchema,
        }),
        "INVALID_QUOTAS",
      )
      .max(PLATFORMS.length, "TOO_MANY_ITEMS"),
  })
  .superRefine((v, ctx) => {
    const seen = new Set<string>();
    v.quotas.forEach((q, i) => {
      if (seen.has(q.platform))
        ctx.addIssue({ code: "custom", path: ["quotas", i, "platform"], message: "DUPLICATE_PLATFORM" });
      seen.add(q.platform);
    });
  });

/**
 * Admin: whole replace of one user's platform limits (the gateway's PUT …/platform-quotas), made from
 * `version`; a save over a newer change is CONFLICT and changes nothing.
 */
export const saveUserPlatformQuotasAction = guardedAction({
  role: "admin",
  schema: SaveSchema,
  handler: async ({ userId, version, quotas }, { user }) => {
    const r = await saveUserQuotas(
      userId,
      quotas.map((q) => ({
        platform: q.platform,
        limits: { daily: q.daily_limit_usd, weekly: q.weekly_limit_usd, monthly: q.monthly_limit_usd },
      })),
      { id: user.id, email: user.email },
      version,
    );
    if (!r.ok) return fail(r.code);
    revalidatePath("/[locale]/admin/users", "page");
    return { ok: true, data: { view: r.view, applied: r.applied } };
  },
});

/** Admin: reset one window's usage of one platform (the gateway's POST …/platform-quotas/reset). */
export const resetUserPlatformQuotaWindowAction = guardedAction({
  role: "admin",
  schema: z.strictObject({
    userId: UserId,
    platform: Platform,
    window: z.enum(["daily", "weekly", "monthly"], "INVALID_WINDOW"),
  }),
  handler: async ({ userId, platform, window }, { user }) => {
    const r = await resetUserQuotaWindow(userId, platform, window, { id: user.id, email: user.email });
    if (!r.ok) return fail(r.code);
    revalidatePath("/[locale]/admin/users", "page");
    return { ok: true, data: { view: r.view, applied: r.applied } };
  },
});
