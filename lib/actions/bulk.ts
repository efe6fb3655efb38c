"use server";

import { revalidatePath } from "next/cache";
import { z } from "zod";

import { fail, guardedAction } from "@/lib/actions/safe-action";
import {
  bulkJobExceptions,
  bulkJobProgress,
  cancelBulkJob,
  previewBulk,
  startBulkJob,
  startBulkUndo,
} from "@/lib/bulk/engine";
import { kickBulkWorker } from "@/lib/bulk/runtime";
import { bulkRequestSchema } from "@/lib/bulk/schema";
import { appPlatforms } from "@/lib/db/platforms";
import { appDeps } from "@/lib/quota/runtime";

/**
 * Admin: bulk operations on users' quotas (issue 16, lib/bulk/engine.ts). Each action checks the
 * role before its input is parsed (guardedAction); a request is validated against the live
 * platform registry. Apply needs the preview's fingerprint: STALE_PREVIEW when the selection or a
 * selected user's limits changed since.
 */
const JobId = z
  .number("INVALID_ID")
  .int("INVALID_ID")
  .positive("INVALID_ID")
  .max(Number.MAX_SAFE_INTEGER, "INVALID_ID");
const Fingerprint = z.string("STALE_PREVIEW").regex(/^[0-9a-f]{64}$/, "STALE_PREVIEW");

export const previewBulkAction = guardedAction({
  role: "admin",
  schema: async () => z.strictObject({ request: bulkRequestSchema(await appPlatforms()) }),
  handler: async ({ request }) => ({ ok: true, data: await previewBulk(request, appDeps()) }),
});

export const startBulkAction = guardedAction({
  role: "admin",
  schema: async () => z.strictObject({ request: bulkRequestSchema(await appPlatforms()), fingerprint: Fingerprint }),
  handler: async ({ request, fingerprint }, { user }) => {
    const r = await startBulkJob(request, fingerprint, { id: user.id, email: user.email }, appDeps());
    if (!r.ok) return fail(r.code);
    kickBulkWorker();
    return { ok: true, data: { jobId: r.jobId } };
  },
});

/** A job's progress (the page's bar, polled) and, once it is over, the users it left alone and why. */
export const bulkProgressAction = guardedAction({
  role: "admin",
  schema: z.strictObject({ jobId: JobId }),
  handler: async ({ jobId }) => {
    const { pool } = appDeps().billing;
    const progress = await bulkJobProgress(pool, jobId);
    if (!progress) return fail("NOT_FOUND");
    const over = progress.state !== "running" && progress.state !== "cancelling";
    if (over) revalidatePath("/[locale]/admin/users", "page");
    return { ok: true, data: { progress, exceptions: over ? await bulkJobExceptions(pool, jobId, 20) : [] } };
  },
});

export const cancelBulkAction = guardedAction({
  role: "admin",
  schema: z.strictObject({ jobId: JobId }),
  handler: async ({ jobId }) => {
    if (!(await cancelBulkJob(appDeps().billing.pool, jobId))) return fail("BULK_NOT_RUNNING");
    return { ok: true, data: { cancelling: true } };
  },
});

/** Undo a whole bulk operation: a job of its own; users changed since are left alone and reported. */
export const undoBulkAction = guardedAction({
  role: "admin",
  schema: z.strictObject({ jobId: JobId }),
  handler: async ({ jobId }, { user }) => {
    const r = await startBulkUndo(jobId, { id: user.id, email: user.email }, appDeps());
    if (!r.ok) return fail(r.code);
    kickBulkWorker();
    return { ok: true, data: { jobId: r.jobId } };
  },
});
