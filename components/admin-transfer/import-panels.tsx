"use client";

import { useTranslations } from "next-intl";
import { useEffect, useId, useState } from "react";

import { errorText } from "@/components/auth/error-text";
import { ConfirmDialog } from "@/components/ui/confirm-dialog";
import { isKey } from "@/i18n/known-key";
import type { ActionFailure, ActionResult } from "@/lib/actions/safe-action";
import {
  applyDefaultsImportAction,
  applyLimitsImportAction,
  importJobProgressAction,
  previewDefaultsImportAction,
  previewLimitsImportAction,
  type DefaultsImportPreview,
  type LimitsImportPreview,
} from "@/lib/actions/transfer";
import type { BulkJobProgress } from "@/lib/bulk/types";

/** The same bound as the server's (lib/bulk/transfer.ts MAX_IMPORT_BYTES): refused before it is sent. */
const MAX_BYTES = 8 * 2 ** 20;
const POLL_MS = 1000;

type T = ReturnType<typeof useTranslations<"AdminTransfer">>;

function problemText(t: T, code: string, values: Record<string, string>): string {
  const key = `errors.${code}`;
  return isKey(t, key) ? t(key, values) : code;
}

function limitText(t: T, v: number | null | boolean | "absent"): string {
  if (v === "absent") return t("absent");
  if (v === null) return t("unlimited");
  if (v === true || v === false) return String(v);
  if (v === 0) return t("disabled");
  return `$${v}`;
}

/** A file input + "Check file": the file's text, read in the browser, with its size checked first. */
function FilePicker({
  accept,
  pending,
  onText,
  testId,
}: {
  accept: string;
  pending: boolean;
  onText: (text: string | null, error: string | null) => void;
  testId: string;
}) {
  const t = useTranslations("AdminTransfer");
  const id = useId();
  const [file, setFile] = useState<File | null>(null);
  return (
    <form
      className="flex flex-wrap items-end gap-3"
      onSubmit={(e) => {
        e.preventDefault();
        if (!file) return;
        if (file.size > MAX_BYTES) return onText(null, t("errors.FILE_TOO_LARGE"));
        void file.text().then((text) => onText(text, null));
      }}
    >
      <label htmlFor={id} className="flex flex-col gap-1 text-sm">
        <span className="font-medium">{t("chooseFile")}</span>
        <input
          id={id}
          type="file"
          accept={accept}
          data-testid={`${testId}-file`}
          className="max-w-full text-sm file:mr-3 file:rounded-md file:border file:border-slate-300 file:bg-white file:px-3 file:py-1.5"
          onChange={(e) => setFile(e.target.files?.[0] ?? null)}
        />
      </label>
      <button
        type="submit"
        disabled={!file || pending}
        data-testid={`${testId}-check`}
        className="rounded-md border border-slate-300 px-4 py-2 text-sm font-medium hover:bg-slate-100 disabled:opacity-50"
      >
        {pending ? t("checking") : t("check")}
      </button>
    </form>
  );
}

function useFailureText() {
  const t = useTranslations("AdminTransfer");
  const te = useTranslations("Errors");
  return (r: ActionFailure) => {
    const key = `errors.${r.code}`;
    if (isKey(t, key)) return t(key, { expected: "", value: "" });
    return errorText(te, r.code) ?? r.code;
  };
}

/**
 * The two-step flow both panels share: check a file (a dry run with its text), then apply that same
 * text with what the check returned. `reset` clears a panel's own outcome when a new file is checked.
 */
function useImportFlow<P, A>(steps: {
  check: (text: string) => Promise<ActionResult<P>>;
  apply: (text: string, preview: P) => Promise<ActionResult<A>>;
  applied: (result: A) => void;
  reset: () => void;
}) {
  const failureText = useFailureText();
  const [text, setText] = useState<string | null>(null);
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [preview, setPreview] = useState<P | null>(null);
  const run = async <R,>(call: () => Promise<ActionResult<R>>): Promise<R | null> => {
    setPending(true);
    const r = await call();
    setPending(false);
    if (r.ok) return r.data;
    setError(failureText(r));
    return null;
  };
  const check = async (fileText: string | null, fileError: string | null) => {
    setError(fileError);
    setPreview(null);
    steps.reset();
    if (fileText === null) return;
    const p = await run(() => steps.check(fileText));
    if (p === null) return;
    setText(fileText);
    setPreview(p);
  };
  const apply = async () => {
    if (preview === null || text === null) return;
    const a = await run(() => steps.apply(text, preview));
    if (a === null) return;
    setPreview(null);
    steps.applied(a);
  };
  return { pending, error, preview, check, apply };
}

/** "Apply" behind a confirmation. */
function ApplyButton({
  disabled,
  description,
  onConfirm,
  testId,
}: {
  disabled: boolean;
  description: string;
  onConfirm: () => void;
  testId: string;
}) {
  const t = useTranslations("AdminTransfer");
  return (
    <ConfirmDialog
      trigger={
        <button
          type="button"
          disabled={disabled}
          data-testid={testId}
          className="rounded-md bg-slate-900 px-4 py-2 text-sm font-medium text-white hover:bg-slate-700 disabled:opacity-50"
        >
          {t("apply")}
        </button>
      }
      title={t("applyTitle")}
      description={description}
      confirmLabel={t("apply")}
      cancelLabel={t("cancel")}
      onConfirm={onConfirm}
    />
  );
}

export function LimitsImportPanel() {
  const t = useTranslations("AdminTransfer");
  const [job, setJob] = useState<BulkJobProgress | null>(null);
  const [jobId, setJobId] = useState<number | null>(null);
  const { pending, error, preview, check, apply } = useImportFlow({
    check: (text) => previewLimitsImportAction({ text }),
    apply: (text, p: LimitsImportPreview) => applyLimitsImportAction({ text, fingerprint: p.fingerprint }),
    applied: (r) => setJobId(r.jobId),
    reset: () => {
      setJob(null);
      setJobId(null);
    },
  });

  useEffect(() => {
    if (jobId === null) return;
    let stop = false;
    const tick = async () => {
      const r = await importJobProgressAction({ jobId });
      if (stop) return;
      if (r.ok) setJob(r.data);
      if (!r.ok || r.data.state === "running" || r.data.state === "cancelling") setTimeout(() => void tick(), POLL_MS);
    };
    void tick();
    return () => {
      stop = true;
    };
  }, [jobId]);

  return (
    <div className="space-y-4" data-testid="limits-import">
      <FilePicker accept=".csv,.json,text/csv,application/json" pending={pending} onText={check} testId="limits" />
      {error ? (
        <p role="alert" className="text-sm text-red-700" data-testid="limits-error">
          {error}
        </p>
      ) : null}
      {preview ? (
        <div className="space-y-4" data-testid="limits-preview">
          <p className="text-sm" data-testid="limits-summary">
            {t("summary", { entries: preview.entries, good: preview.good, bad: preview.problemCount })}
          </p>
          <ProblemsTable
            t={t}
            problems={preview.problems.map((p) => ({
              where: p.line !== null ? t("line", { line: p.line }) : (p.path ?? ""),
              text: problemText(t, p.code, { value: p.value ?? "", expected: p.value ?? "" }),
            }))}
            more={preview.problemCount - preview.problems.length}
            testId="limits-problems"
          />
          <p className="text-sm font-medium" data-testid="limits-changes">
            {t("changesSummary", { users: preview.usersChanged, cells: preview.cellsChanged })}
          </p>
          {preview.sample.length > 0 ? (
            <ChangesTable
              t={t}
              rows={preview.sample.map((c) => ({
                who: c.email,
                platform: c.platform,
                window: t(c.window),
                before: limitText(t, c.before),
                after: limitText(t, c.after),
              }))}
              caption={t("sampleTitle", { count: preview.sample.length })}
              testId="limits-sample"
              whoLabel={t("user")}
            />
          ) : null}
          {preview.usersChanged > 0 ? (
            <ApplyButton
              disabled={pending}
              testId="limits-apply"
              description={t("applyLimits", { users: preview.usersChanged })}
              onConfirm={() => void apply()}
            />
          ) : null}
        </div>
      ) : null}
      {jobId !== null ? (
        <div role="status" className="space-y-2 text-sm" data-testid="limits-job">
          <p>{t("started", { id: jobId })}</p>
          {job ? (
            <>
              <progress className="w-full" max={Math.max(1, job.total)} value={job.done} aria-label={t("title")} />
              <p data-testid="limits-job-state" data-state={job.state}>
                {job.state === "done"
                  ? t("finished", { applied: job.applied, conflicts: job.conflicts })
                  : job.state === "failed"
                    ? t("failedJob", { error: job.error ?? "" })
                    : t("progress", {
                        done: job.done,
                        total: job.total,
                        applied: job.applied,
                        conflicts: job.conflicts,
                      })}
              </p>
            </>
          ) : null}
        </div>
      ) : null}
    </div>
  );
}

export function DefaultsImportPanel() {
  const t = useTranslations("AdminTransfer");
  const tp = useTranslations("Sources");
  const tq = useTranslations("QuotaErrors");
  // A cell's problem reads as the settings form's (no value to quote: the path says where).
  const defaultsProblem = (code: string) =>
    isKey(tq, code) ? tq(code) : problemText(t, code, { value: "", expected: "quota-console/defaults@1" });
  const [done, setDone] = useState<string | null>(null);
  const { pending, error, preview, check, apply } = useImportFlow({
    check: (text) => previewDefaultsImportAction({ text }),
    apply: (text, p: DefaultsImportPreview) => applyDefaultsImportAction({ text, version: p.version }),
    applied: (r) => setDone(t("saved", { count: r.changed })),
    reset: () => setDone(null),
  });
  const keyText = (key: string) => {
    if (key === "system") return t("system");
    const [source, grant] = key.split(".");
    const name = isKey(tp, source) ? tp(source) : source;
    return grant ? `${name} — ${t("grant")}` : name;
  };
  return (
    <div className="space-y-4" data-testid="defaults-import">
      <FilePicker accept=".json,application/json" pending={pending} onText={check} testId="defaults" />
      {error ? (
        <p role="alert" className="text-sm text-red-700" data-testid="defaults-error">
          {error}
        </p>
      ) : null}
      {done ? (
        <p role="status" className="text-sm text-green-700" data-testid="defaults-saved">
          {done}
        </p>
      ) : null}
      {preview ? (
        <div className="space-y-4" data-testid="defaults-preview">
          {preview.problems.length > 0 ? (
            <>
              <ProblemsTable
                t={t}
                problems={preview.problems.map((p) => ({
                  where: p.path,
                  text: defaultsProblem(p.code),
                }))}
                more={0}
                testId="defaults-problems"
              />
              <p className="text-sm">{t("fix")}</p>
            </>
          ) : (
            <>
              <p className="text-sm font-medium" data-testid="defaults-changes">
                {t("defaultsChanges", { count: preview.changes.length })}
              </p>
              {preview.changes.length > 0 ? (
                <>
                  <ChangesTable
                    t={t}
                    rows={preview.changes.map((c) => ({
                      who: keyText(c.key),
                      platform: c.platform ?? "",
                      window: c.window ? t(c.window) : "",
                      before: limitText(t, c.before),
                      after: limitText(t, c.after),
                    }))}
                    caption={t("sampleTitle", { count: preview.changes.length })}
                    testId="defaults-sample"
                    whoLabel={t("defaultsTitle")}
                  />
                  <ApplyButton
                    disabled={pending}
                    testId="defaults-apply"
                    description={t("applyDefaults", { count: preview.changes.length })}
                    onConfirm={() => void apply()}
                  />
                </>
              ) : null}
            </>
          )}
        </div>
      ) : null}
    </div>
  );
}

function ProblemsTable({
  t,
  problems,
  more,
  testId,
}: {
  t: T;
  problems: Array<{ where: string; text: string }>;
  more: number;
  testId: string;
}) {
  if (problems.length === 0) return null;
  return (
    <div className="overflow-x-auto">
      <table className="w-full text-left text-sm" data-testid={testId}>
        <caption className="mb-2 text-left font-medium text-red-800">{t("problemsTitle")}</caption>
        <thead>
          <tr className="border-b border-slate-200 text-slate-600">
            <th scope="col" className="py-1 pr-4 font-medium">
              {t("where")}
            </th>
            <th scope="col" className="py-1 font-medium">
              {t("reason")}
            </th>
          </tr>
        </thead>
        <tbody>
          {problems.map((p, i) => (
            <tr key={i} className="border-b border-slate-100">
              <td className="py-1 pr-4 whitespace-nowrap">{p.where}</td>
              <td className="py-1 break-all">{p.text}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {more > 0 ? <p className="mt-1 text-sm text-slate-600">{t("problemsMore", { count: more })}</p> : null}
    </div>
  );
}

function ChangesTable({
  t,
  rows,
  caption,
  testId,
  whoLabel,
}: {
  t: T;
  rows: Array<{ who: string; platform: string; window: string; before: string; after: string }>;
  caption: string;
  testId: string;
  whoLabel: string;
}) {
  return (
    <div className="overflow-x-auto">
      <table className="w-full text-left text-sm" data-testid={testId}>
        <caption className="mb-2 text-left font-medium">{caption}</caption>
        <thead>
          <tr className="border-b border-slate-200 text-slate-600">
            {[whoLabel, t("platform"), t("window"), t("before"), t("after")].map((label) => (
              <th key={label} scope="col" className="py-1 pr-4 font-medium">
                {label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => (
            <tr key={i} className="border-b border-slate-100">
              <td className="py-1 pr-4 break-all">{r.who}</td>
              <td className="py-1 pr-4">{r.platform}</td>
              <td className="py-1 pr-4">{r.window}</td>
              <td className="py-1 pr-4 tabular-nums">{r.before}</td>
              <td className="py-1 pr-4 tabular-nums">{r.after}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
