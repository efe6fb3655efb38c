"use server";

import { revalidatePath } from "next/cache";
import { z } from "zod";

import { fail, guardedAction, toFieldErrors, type ActionResult } from "@/lib/actions/safe-action";
import type { SessionUser } from "@/lib/auth/session";
import { isPlatform } from "@/lib/billing/platforms";
import { appPlatforms } from "@/lib/db/platforms";
import { repairAllDrift, repairDriftKey, runDriftCheck } from "@/lib/quota/cache-health";

const UserId = z
  .number("INVALID_ID")
  .int("INVALID_ID")
  .positive("INVALID_ID")
  .max(Number.MAX_SAFE_INTEGER, "INVALID_ID");
/** A platform of the registry (the live gateway's in attached mode). */
const platformSchema = (platforms: readonly string[]) =>
  z.string("UNKNOWN_PLATFORM").refine((p) => isPlatform(p, platforms), "UNKNOWN_PLATFORM");
const NoInput = z.strictObject({}, "INVALID_INPUT");
const repairKeySchema = (platforms: readonly string[]) =>
  z.strictObject({ userId: UserId, platform: platformSchema(platforms) });

/**
 * These actions take `z.unknown()` in the factory and parse here, in the handler. The factory now
 * checks the role before its own parse too, so this is a second guarantee of the same contract: a
 * non-admin learns nothing about their input shape (always FORBIDDEN).
 */
function parsed<S extends z.ZodType, T>(
  schema: S | (() => Promise<S>),
  run: (input: z.infer<S>, user: SessionUser) => Promise<ActionResult<T>>,
) {
  return async (input: unknown, { user }: { user: SessionUser }): Promise<ActionResult<T>> => {
    const r = (typeof schema === "function" ? await schema() : schema).safeParse(input ?? {});
    if (!r.success) return fail("INVALID_INPUT", toFieldErrors(r.error));
    return run(r.data, user);
  };
}

const actor = (u: SessionUser) => ({ id: u.id, email: u.email });

/** Admin: compare every Redis quota hash with its PostgreSQL row (read-only). */
export const runDriftCheckAction = guardedAction({
  role: "admin",
  schema: z.unknown(),
  handler: parsed(NoInput, async () => {
    const r = await runDriftCheck();
    return r.ok ? { ok: true, data: r.data } : fail(r.code);
  }),
});

/** Admin: repair one drifted key (direct: drop it; flusher: queue it for the flusher), audited, then check again. */
export const repairDriftKeyAction = guardedAction({
  role: "admin",
  schema: z.unknown(),
  handler: parsed(
    async () => repairKeySchema(await appPlatforms()),
    async ({ userId, platform }, user) => {
      const r = await repairDriftKey(userId, platform, actor(user));
      if (!r.ok) return fail(r.code);
      revalidatePath("/[locale]/admin/users", "page");
      return { ok: true, data: r.data };
    },
  ),
});

/** Admin: repair every drifted key found now, audited per key, then check again. */
export const repairAllDriftAction = guardedAction({
  role: "admin",
  schema: z.unknown(),
  handler: parsed(NoInput, async (_input, user) => {
    const r = await repairAllDrift(actor(user));
    if (!r.ok) return fail(r.code);
    revalidatePath("/[locale]/admin/users", "page");
    return { ok: true, data: r.data };
  }),
});
