"use client";

import { useTranslations } from "next-intl";
import { useEffect, useState, useTransition } from "react";

import { InlineError } from "@/components/ui/inline-error";
import { knownKey } from "@/i18n/known-key";
import {
  bulkProgressAction,
  cancelBulkAction,
  previewBulkAction,
  startBulkAction,
  undoBulkAction,
} from "@/lib/actions/bulk";
import { AUTH_SOURCES } from "@/lib/auth-sources";
import { isKnownPlatform, platformLabel } from "@/lib/billing/platforms";
import { QUOTA_WINDOWS, type QuotaWindow } from "@/lib/billing/vocabulary";
import {
  NO_BULK_FILTER,
  type BulkFilter,
  type BulkJobProgress,
  type BulkPreview,
  type BulkRequest,
} from "@/lib/bulk/types";

type Kind = "set_limits" | "scale" | "reset_usage" | "apply_defaults" | "clear_limits";
type Exception = { userId: number; email: string | null; outcome: "conflict" | "gone" | "refused" };

const input = "mt-1 rounded-md border border-slate-300 bg-white px-2 py-1.5 text-sm text-slate-900";
const button = "rounded-md border border-slate-300 px-3 py-1.5 text-sm hover:bg-slate-100 disabled:opacity-60";
const primary = "rounded-md bg-slate-900 px-3 py-1.5 text-sm text-white hover:bg-slate-700 disabled:opacity-60";

/**
 * The bulk page's flow (issue 16): filter (the users list's filters plus the bulk-only ones) →
 * operation on platforms × windows → preview (how many users and cells, a sample before → after)
 * → apply with the preview's fingerprint → a progress bar polled every second → undo of the whole
 * operation. Every step is a guarded server action; errors are translated under Errors.
 */
export function BulkPanel({ platforms }: { platforms: readonly string[] }) {
  const t = useTranslations("AdminBulk");
  const te = useTranslations("Errors");
  const tp = useTranslations("Platforms");
  const ts = useTranslations("Sources");
  const label = (p: string) => platformLabel(p, (k) => (isKnownPlatform(k) ? tp(k) : k));
  const [filter, setFilter] = useState<BulkFilter>({ ...NO_BULK_FILTER });
  const [kind, setKind] = useState<Kind>("set_limits");
  const [chosen, setChosen] = useState<string[]>([platforms[0]]);
  const [windows, setWindows] = useState<QuotaWindow[]>(["daily"]);
  const [mode, setMode] = useState<"value" | "unlimited" | "disabled">("value");
  const [usd, setUsd] = useState("10");
  const [factor, setFactor] = useState("1.5");
  const [from, setFrom] = useState<"system" | "signup_source">("system");
  const [fill, setFill] = useState<"replace" | "fill_missing">("replace");
  const [preview, setPreview] = useState<{ request: BulkRequest; result: BulkPreview } | null>(null);
  const [job, setJob] = useState<BulkJobProgress | null>(null);
  const [exceptions, setExceptions] = useState<Exception[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [pending, startTransition] = useTransition();

  const show = (code: string) => setError(te(knownKey(te, code, "INTERNAL_ERROR")));
  const edited = () => setPreview(null);

  function request(): BulkRequest {
    const selection = { kind: "filter" as const, filter };
    switch (kind) {
      case "set_limits":
        return {
          selection,
          operation: {
            kind,
            platforms: chosen,
            windows,
            value: mode === "value" ? { mode, usd: Number(usd) } : { mode },
          },
        };
      case "scale":
        return { selection, operation: { kind, platforms: chosen, windows, factor: Number(factor) } };
      case "reset_usage":
        return { selection, operation: { kind, platforms: chosen, windows } };
      case "apply_defaults":
        return { selection, operation: { kind, from, mode: fill, platforms: chosen } };
      case "clear_limits":
        return { selection, operation: { kind, platforms: chosen } };
    }
  }

  const runPreview = () =>
    startTransition(async () => {
      setError(null);
      setJob(null);
      const req = request();
      const r = await previewBulkAction({ request: req });
      if (r.ok) setPreview({ request: req, result: r.data });
      else show(r.fieldErrors ? (Object.values(r.fieldErrors)[0]?.[0] ?? r.code) : r.code);
    });

  const apply = () =>
    startTransition(async () => {
      if (!preview) return;
      setError(null);
      const r = await startBulkAction({ request: preview.request, fingerprint: preview.result.fingerprint });
      if (!r.ok) {
        show(r.code);
        if (r.code === "STALE_PREVIEW") setPreview(null);
        return;
      }
      setPreview(null);
      await poll(r.data.jobId);
    });

  async function poll(jobId: number) {
    const r = await bulkProgressAction({ jobId });
    if (!r.ok) return show(r.code);
    setJob(r.data.progress);
    setExceptions(r.data.exceptions);
  }

  // While a job runs: its progress every second.
  useEffect(() => {
    if (!job || (job.state !== "running" && job.state !== "cancelling")) return;
    const timer = setTimeout(() => void poll(job.id), 1000);
    return () => clearTimeout(timer);
  }, [job]); // eslint-disable-line react-hooks/exhaustive-deps

  const cancel = () =>
    startTransition(async () => {
      if (!job) return;
      const r = await cancelBulkAction({ jobId: job.id });
      if (!r.ok) show(r.code);
      await poll(job.id);
    });

  const undo = () =>
    startTransition(async () => {
      if (!job) return;
      setError(null);
      const r = await undoBulkAction({ jobId: job.id });
      if (!r.ok) return show(r.code);
      await poll(r.data.jobId);
    });

  const toggle = <T,>(list: T[], v: T, set: (l: T[]) => void) => {
    set(list.includes(v) ? list.filter((x) => x !== v) : [...list, v]);
    edited();
  };
  const withWindows = kind === "set_limits" || kind === "scale" || kind === "reset_usage";
  const f = (patch: Partial<BulkFilter>) => {
    setFilter({ ...filter, ...patch });
    edited();
  };
  const cellText = (v: number | null | "absent", field: "limit" | "usage") =>
    v === "absent"
      ? t("absent")
      : v === null
        ? t("unlimited")
        : v === 0 && field === "limit"
          ? t("disabledLimit")
          : `$${v}`;
  const percent = job && job.total > 0 ? Math.round((job.done / job.total) * 100) : 0;
  const running = job?.state === "running" || job?.state === "cancelling";

  return (
    <div className="space-y-4" data-testid="bulk-panel">
      <fieldset className="rounded-xl border border-slate-200 bg-white p-3 shadow-sm">
        <legend className="px-1 text-sm font-medium">{t("users")}</legend>
        <div className="flex flex-wrap items-end gap-2">
          <label className="flex min-w-48 flex-1 flex-col text-xs text-slate-600">
            {t("search")}
            <input
              data-testid="bulk-q"
              type="search"
              value={filter.q}
              onChange={(e) => f({ q: e.target.value })}
              placeholder={t("searchPlaceholder")}
              className={input}
            />
          </label>
          <label className="flex flex-col text-xs text-slate-600">
            {t("role")}
            <select
              value={filter.role}
              onChange={(e) => f({ role: e.target.value as BulkFilter["role"] })}
              className={input}
            >
              <option value="">{t("any")}</option>
              <option value="admin">{t("roleAdmin")}</option>
              <option value="user">{t("roleUser")}</option>
            </select>
          </label>
          <label className="flex flex-col text-xs text-slate-600">
            {t("status")}
            <select
              value={filter.status}
              onChange={(e) => f({ status: e.target.value as BulkFilter["status"] })}
              className={input}
            >
              <option value="">{t("any")}</option>
              <option value="active">{t("active")}</option>
              <option value="disabled">{t("disabled")}</option>
            </select>
          </label>
          <label className="flex flex-col text-xs text-slate-600">
            {t("source")}
            <select
              value={filter.source}
              onChange={(e) => f({ source: e.target.value as BulkFilter["source"] })}
              className={input}
            >
              <option value="">{t("any")}</option>
              {AUTH_SOURCES.map((s) => (
                <option key={s} value={s}>
                  {ts(s)}
                </option>
              ))}
            </select>
          </label>
          <label className="flex items-center gap-1.5 text-sm">
            <input
              type="checkbox"
              checked={filter.limit === "1"}
              onChange={(e) => f({ limit: e.target.checked ? "1" : "" })}
            />
            {t("hasLimit")}
          </label>
          <label className="flex flex-col text-xs text-slate-600">
            {t("overPercent")}
            <input
              type="number"
              min={1}
              max={1000}
              value={filter.overPercent ?? ""}
              onChange={(e) => f({ overPercent: e.target.value === "" ? null : Number(e.target.value) })}
              className={`${input} w-24`}
            />
          </label>
          <label className="flex flex-col text-xs text-slate-600">
            {t("createdFrom")}
            <input
              type="date"
              value={filter.createdFrom?.slice(0, 10) ?? ""}
              onChange={(e) => f({ createdFrom: e.target.value ? new Date(e.target.value).toISOString() : null })}
              className={input}
            />
          </label>
          <label className="flex flex-col text-xs text-slate-600">
            {t("createdTo")}
            <input
              type="date"
              value={filter.createdTo?.slice(0, 10) ?? ""}
              onChange={(e) => f({ createdTo: e.target.value ? new Date(e.target.value).toISOString() : null })}
              className={input}
            />
          </label>
        </div>
      </fieldset>

      <fieldset className="rounded-xl border border-slate-200 bg-white p-3 shadow-sm">
        <legend className="px-1 text-sm font-medium">{t("operation")}</legend>
        <div className="flex flex-wrap items-end gap-3">
          <label className="flex flex-col text-xs text-slate-600">
            {t("operation")}
            <select
              data-testid="bulk-kind"
              value={kind}
              onChange={(e) => {
                setKind(e.target.value as Kind);
                edited();
              }}
              className={input}
            >
              {(["set_limits", "scale", "reset_usage", "apply_defaults", "clear_limits"] as const).map((k) => (
                <option key={k} value={k}>
                  {t(`kinds.${k}`)}
                </option>
              ))}
            </select>
          </label>
          {kind === "set_limits" ? (
            <>
              <label className="flex flex-col text-xs text-slate-600">
                {t("value")}
                <select
                  value={mode}
                  onChange={(e) => {
                    setMode(e.target.value as typeof mode);
                    edited();
                  }}
                  className={input}
                >
                  <option value="value">{t("usd")}</option>
                  <option value="unlimited">{t("unlimited")}</option>
                  <option value="disabled">{t("disabledLimit")}</option>
                </select>
              </label>
              {mode === "value" ? (
                <label className="flex flex-col text-xs text-slate-600">
                  {t("usd")}
                  <input
                    data-testid="bulk-usd"
                    inputMode="decimal"
                    value={usd}
                    onChange={(e) => {
                      setUsd(e.target.value);
                      edited();
                    }}
                    className={`${input} w-28`}
                  />
                </label>
              ) : null}
            </>
          ) : null}
          {kind === "scale" ? (
            <label className="flex flex-col text-xs text-slate-600">
              {t("factor")}
              <input
                inputMode="decimal"
                value={factor}
                onChange={(e) => {
                  setFactor(e.target.value);
                  edited();
                }}
                className={`${input} w-24`}
              />
            </label>
          ) : null}
          {kind === "apply_defaults" ? (
            <>
              <label className="flex flex-col text-xs text-slate-600">
                {t("defaultsFrom")}
                <select
                  value={from}
                  onChange={(e) => {
                    setFrom(e.target.value as typeof from);
                    edited();
                  }}
                  className={input}
                >
                  <option value="system">{t("fromSystem")}</option>
                  <option value="signup_source">{t("fromSource")}</option>
                </select>
              </label>
              <label className="flex flex-col text-xs text-slate-600">
                {t("defaultsMode")}
                <select
                  value={fill}
                  onChange={(e) => {
                    setFill(e.target.value as typeof fill);
                    edited();
                  }}
                  className={input}
                >
                  <option value="replace">{t("replace")}</option>
                  <option value="fill_missing">{t("fillMissing")}</option>
                </select>
              </label>
            </>
          ) : null}
        </div>
        <div className="mt-3 flex flex-wrap gap-x-4 gap-y-2" role="group" aria-label={t("platforms")}>
          <span className="text-xs text-slate-600">{t("platforms")}</span>
          {platforms.map((p) => (
            <label key={p} className="flex items-center gap-1.5 text-sm">
              <input type="checkbox" checked={chosen.includes(p)} onChange={() => toggle(chosen, p, setChosen)} />
              {label(p)}
            </label>
          ))}
        </div>
        {withWindows ? (
          <div className="mt-2 flex flex-wrap gap-x-4 gap-y-2" role="group" aria-label={t("windows")}>
            <span className="text-xs text-slate-600">{t("windows")}</span>
            {QUOTA_WINDOWS.map((w) => (
              <label key={w} className="flex items-center gap-1.5 text-sm">
                <input type="checkbox" checked={windows.includes(w)} onChange={() => toggle(windows, w, setWindows)} />
                {t(`window.${w}`)}
              </label>
            ))}
          </div>
        ) : null}
        <div className="mt-3 flex flex-wrap gap-2">
          <button
            type="button"
            className={button}
            disabled={pending || running}
            onClick={runPreview}
            data-testid="bulk-preview"
          >
            {t("preview")}
          </button>
        </div>
      </fieldset>

      <InlineError message={error} />

      {preview ? (
        <section
          className="rounded-xl border border-slate-200 bg-white p-3 shadow-sm"
          data-testid="bulk-preview-result"
        >
          <p className="text-sm" data-testid="bulk-preview-summary">
            {t("previewSummary", {
              users: preview.result.users,
              changed: preview.result.usersChanged,
              cells: preview.result.cellsChanged,
            })}
          </p>
          {preview.result.problems.length ? (
            <p className="mt-1 text-sm text-amber-800">{t("problems", { n: preview.result.problems.length })}</p>
          ) : null}
          {preview.result.sample.length ? (
            <div className="mt-2 overflow-x-auto">
              <table className="w-full text-left text-sm">
                <caption className="sr-only">{t("sample")}</caption>
                <thead className="text-xs text-slate-600">
                  <tr>
                    <th className="py-1 pr-3">{t("user")}</th>
                    <th className="py-1 pr-3">{t("cell")}</th>
                    <th className="py-1 pr-3">{t("before")}</th>
                    <th className="py-1">{t("after")}</th>
                  </tr>
                </thead>
                <tbody>
                  {preview.result.sample.map((c) => (
                    <tr key={`${c.userId}:${c.platform}:${c.window}`} className="border-t border-slate-100">
                      <td className="py-1 pr-3 break-all">{c.email}</td>
                      <td className="py-1 pr-3 whitespace-nowrap">
                        {label(c.platform)} · {t(`window.${c.window}`)}
                        {c.field === "usage" ? ` · ${t("usage")}` : ""}
                      </td>
                      <td className="py-1 pr-3 whitespace-nowrap">{cellText(c.before, c.field)}</td>
                      <td className="py-1 whitespace-nowrap">{cellText(c.after, c.field)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          ) : null}
          <button
            type="button"
            className={`${primary} mt-3`}
            disabled={pending || preview.result.usersChanged === 0}
            onClick={apply}
            data-testid="bulk-apply"
          >
            {t("apply", { n: preview.result.usersChanged })}
          </button>
        </section>
      ) : null}

      {job ? (
        <section className="rounded-xl border border-slate-200 bg-white p-3 shadow-sm" data-testid="bulk-job">
          <p className="text-sm font-medium">
            {t("jobTitle", { id: job.id, kind: job.kind === "undo" ? t("kinds.undo") : t(`kinds.${job.kind}`) })}
          </p>
          <div
            role="progressbar"
            aria-valuemin={0}
            aria-valuemax={job.total}
            aria-valuenow={job.done}
            aria-label={t("progress")}
            className="mt-2 h-3 w-full overflow-hidden rounded bg-slate-200"
          >
            <div className="h-full bg-slate-800 transition-all" style={{ width: `${percent}%` }} />
          </div>
          <p className="mt-1 text-sm" role="status" data-testid="bulk-job-status">
            {t(`state.${job.state}`)} ·{" "}
            {t("counts", {
              done: job.done,
              total: job.total,
              applied: job.applied,
              conflicts: job.conflicts,
            })}
          </p>
          {exceptions.length ? (
            <ul className="mt-1 text-sm text-amber-800" data-testid="bulk-exceptions">
              {exceptions.map((x) => (
                <li key={x.userId}>
                  {x.email ?? `#${x.userId}`}: {t(`outcome.${x.outcome}`)}
                </li>
              ))}
            </ul>
          ) : null}
          <div className="mt-2 flex flex-wrap gap-2">
            {running ? (
              <button
                type="button"
                className={button}
                disabled={pending || job.state === "cancelling"}
                onClick={cancel}
              >
                {t("cancel")}
              </button>
            ) : null}
            {!running &&
            job.kind !== "undo" &&
            job.kind !== "reset_usage" &&
            job.undoneBy === null &&
            job.applied > 0 ? (
              <button type="button" className={button} disabled={pending} onClick={undo} data-testid="bulk-undo">
                {t("undo")}
              </button>
            ) : null}
          </div>
        </section>
      ) : null}
    </div>
  );
}
