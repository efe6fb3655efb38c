"use server";

import { revalidatePath } from "next/cache";
import { z } from "zod";

import { fail, guardedAction } from "@/lib/actions/safe-action";
import { bulkJobProgress, previewBulk, startBulkJob } from "@/lib/bulk/engine";
import { kickBulkWorker } from "@/lib/bulk/runtime";
import { MAX_IMPORT_BYTES, planImport, type ImportProblem } from "@/lib/bulk/transfer";
import type { CellChange } from "@/lib/bulk/types";
import { appPlatforms } from "@/lib/db/platforms";
import { appDeps } from "@/lib/quota/runtime";
import { readQuotaDefaults, saveQuotaDefaults } from "@/lib/settings/store";
import { planDefaultsImport, type DefaultsChange, type DefaultsProblem } from "@/lib/settings/transfer";

/**
 * Admin: import of limits and of quota defaults from a file (lib/bulk/transfer.ts,
 * lib/settings/transfer.ts). Each import is two calls with the same file text: a dry run that
 * reports every bad line and what would change, then an apply that re-reads the file and refuses
 * (STALE_PREVIEW / CONFLICT) unless the database is still as the dry run saw it. Nothing is written
 * by a dry run. The file's text travels in the action's body (next.config.ts bodySizeLimit).
 */
const fileText = z.string("INVALID_INPUT").max(MAX_IMPORT_BYTES, "FILE_TOO_LARGE");
/** Problems sent back to the page at most (the count says how many there were). */
const MAX_PROBLEMS_SHOWN = 500;

export type LimitsImportPreview = {
  format: "csv" | "json";
  entries: number;
  good: number;
  problemCount: number;
  problems: ImportProblem[];
  users: number;
  usersChanged: number;
  cellsChanged: number;
  sample: CellChange[];
  fingerprint: string;
};

export const previewLimitsImportAction = guardedAction({
  role: "admin",
  schema: z.strictObject({ text: fileText }),
  handler: async ({ text }) => {
    const deps = appDeps();
    const plan = await planImport(deps.billing.pool, text, await appPlatforms());
    const preview = await previewBulk({ operation: plan.operation }, deps);
    const data: LimitsImportPreview = {
      format: plan.format,
      entries: plan.entries,
      good: plan.good,
      problemCount: plan.problems.length,
      problems: plan.problems.slice(0, MAX_PROBLEMS_SHOWN),
      users: preview.users,
      usersChanged: preview.usersChanged,
      cellsChanged: preview.cellsChanged,
      sample: preview.sample,
      fingerprint: preview.fingerprint,
    };
    return { ok: true, data };
  },
});

export const applyLimitsImportAction = guardedAction({
  role: "admin",
  schema: z.strictObject({ text: fileText, fingerprint: z.string("INVALID_INPUT").max(128, "INVALID_INPUT") }),
  handler: async ({ text, fingerprint }, { user }) => {
    const deps = appDeps();
    const plan = await planImport(deps.billing.pool, text, await appPlatforms());
    if (plan.operation.rows.length === 0) return fail("NOTHING_TO_CHANGE");
    const r = await startBulkJob({ operation: plan.operation }, fingerprint, { id: user.id, email: user.email }, deps);
    if (!r.ok) return fail(r.code);
    kickBulkWorker();
    return { ok: true, data: { jobId: r.jobId } };
  },
});

export type DefaultsImportPreview = { problems: DefaultsProblem[]; changes: DefaultsChange[]; version: string };

export const previewDefaultsImportAction = guardedAction({
  role: "admin",
  schema: z.strictObject({ text: fileText }),
  handler: async ({ text }) => {
    const platforms = await appPlatforms();
    const current = await readQuotaDefaults(undefined, platforms);
    const plan = planDefaultsImport(text, current, platforms);
    const data: DefaultsImportPreview = { problems: plan.problems, changes: plan.changes, version: current.version };
    return { ok: true, data };
  },
});

export const applyDefaultsImportAction = guardedAction({
  role: "admin",
  schema: z.strictObject({ text: fileText, version: z.string("INVALID_INPUT").max(128, "INVALID_INPUT") }),
  handler: async ({ text, version }, { user }) => {
    const platforms = await appPlatforms();
    const current = await readQuotaDefaults(undefined, platforms);
    if (current.version !== version) return fail("CONFLICT");
    const plan = planDefaultsImport(text, current, platforms);
    if (!plan.form) return fail("INVALID_INPUT");
    const r = await saveQuotaDefaults(plan.form, { id: user.id, email: user.email }, { platforms });
    if (!r.ok) return fail(r.code);
    revalidatePath("/[locale]/admin/settings", "page");
    return { ok: true, data: { changed: r.changed } };
  },
});

/** An import job's progress (the page polls it until the job is over). */
export const importJobProgressAction = guardedAction({
  role: "admin",
  schema: z.strictObject({ jobId: z.number("INVALID_INPUT").int("INVALID_INPUT").positive("INVALID_INPUT") }),
  handler: async ({ jobId }) => {
    const p = await bulkJobProgress(appDeps().billing.pool, jobId);
    if (!p) return fail("NOT_FOUND");
    return { ok: true, data: p };
  },
});
