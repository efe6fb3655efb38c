"use client";

import { useQueryClient } from "@tanstack/react-query";
import { useFormatter, useTranslations } from "next-intl";
import { useEffect, useRef, useState } from "react";

import { isKey } from "@/i18n/known-key";
import { repairAllDriftAction, repairDriftKeyAction, runDriftCheckAction } from "@/lib/actions/cache";
import type { ActionFailure, ActionResult } from "@/lib/actions/safe-action";
import type { DriftReport, DriftRow } from "@/lib/quota/cache-health";
import { quotaKeys } from "@/lib/quota/query";

import { driftRowKey, DriftTable, platformLabel } from "./drift-table";

type Message = { tone: "ok" | "error"; text: string };
type Busy = "check" | "all" | string;

const button = "rounded-md px-4 py-2 text-sm font-medium disabled:opacity-60";

/**
 * "Run drift check" and its result: summary, the differing keys, per-row Repair and Repair all.
 * Results are announced (aria-live) and focus moves to them after each action, so keyboard and
 * screen-reader users land on what changed.
 */
export function DriftCheck({ maxKeys }: { maxKeys: number }) {
  const t = useTranslations("CacheHealth");
  const format = useFormatter();
  const queryClient = useQueryClient();
  const [report, setReport] = useState<DriftReport | null>(null);
  const [message, setMessage] = useState<Message | null>(null);
  const [busy, setBusy] = useState<Busy | null>(null);
  const [focusSeq, setFocusSeq] = useState(0);
  const resultRef = useRef<HTMLDivElement>(null);
  const errorText = useErrorText();

  useEffect(() => {
    if (focusSeq > 0) resultRef.current?.focus();
  }, [focusSeq]);

  async function run<T>(
    what: Busy,
    call: () => Promise<ActionResult<T>>,
    done: (data: T) => { report: DriftReport; message: Message | null },
  ) {
    setBusy(what);
    setMessage(null);
    try {
      const r = await call();
      if (r.ok) {
        const next = done(r.data);
        setReport(next.report);
        setMessage(next.message);
      } else setMessage({ tone: "error", text: errorText(r) });
    } catch {
      setMessage({ tone: "error", text: errorText({ ok: false, code: "INTERNAL_ERROR" }) });
    } finally {
      setBusy(null);
      setFocusSeq((n) => n + 1);
      void queryClient.invalidateQueries({ queryKey: quotaKeys.cacheStatus });
    }
  }

  const check = () =>
    run(
      "check",
      () => runDriftCheckAction({}),
      (data) => ({ report: data, message: null }),
    );
  const repairOne = (row: DriftRow) =>
    run(
      driftRowKey(row),
      () => repairDriftKeyAction({ userId: row.userId, platform: row.platform }),
      (data) => {
        const args = { id: row.userId, platform: platformLabel(row.platform) };
        const done = data.outcome === "dropped" ? t("repairedDropped", args) : t("repairedQueued", args);
        return {
          report: data.report,
          message: { tone: "ok", text: `${done} ${t("recheckDone", { drifted: data.report.drifted })}` },
        };
      },
    );
  const repairAll = () =>
    run(
      "all",
      () => repairAllDriftAction({}),
      (data) => {
        const done =
          data.mode === "flusher"
            ? t("repairedAllQueued", { count: data.repaired })
            : t("repairedAllDropped", { count: data.repaired });
        return {
          report: data.report,
          message: { tone: "ok", text: `${done} ${t("recheckDone", { drifted: data.report.drifted })}` },
        };
      },
    );

  const rows = report?.items ?? [];
  return (
    <section aria-labelledby="drift-title" className="mt-6 rounded-xl border border-slate-200 bg-white p-5 shadow-sm">
      <h2 id="drift-title" className="text-base font-semibold">
        {t("driftTitle")}
      </h2>
      <p className="mt-1 text-sm text-slate-600">{t("driftIntro", { max: format.number(maxKeys) })}</p>
      <div className="mt-4 flex flex-wrap gap-2">
        <button
          type="button"
          onClick={check}
          disabled={busy !== null}
          aria-busy={busy === "check"}
          className={`${button} bg-slate-900 text-white hover:bg-slate-700`}
        >
          {busy === "check" ? t("running") : t("run")}
        </button>
        {rows.length > 0 ? (
          <button
            type="button"
            onClick={repairAll}
            disabled={busy !== null}
            aria-busy={busy === "all"}
            className={`${button} border border-slate-300 hover:bg-slate-100`}
          >
            {busy === "all" ? t("repairing") : t("repairAll", { count: report?.drifted ?? rows.length })}
          </button>
        ) : null}
      </div>

      <div
        ref={resultRef}
        tabIndex={-1}
        aria-live="polite"
        className="mt-4 outline-none focus-visible:ring-2 focus-visible:ring-slate-400"
        data-testid="drift-result"
      >
        {message ? (
          <p
            role={message.tone === "error" ? "alert" : undefined}
            data-testid="drift-message"
            className={`mb-3 rounded-md px-3 py-2 text-sm ${message.tone === "error" ? "bg-red-50 text-red-800" : "bg-green-50 text-green-900"}`}
          >
            {message.text}
          </p>
        ) : null}
        {report ? (
          <>
            <h3 className="text-sm font-semibold">{t("resultTitle")}</h3>
            <p className="mt-1 text-sm" data-testid="drift-summary">
              {t("summary", {
                checked: format.number(report.checked),
                absent: format.number(report.absent),
                skipped: format.number(report.skipped),
                drifted: format.number(report.drifted),
                repaired: format.number(report.repaired),
              })}
            </p>
            <p className="mt-0.5 text-xs text-slate-500">
              {t("summaryMode", {
                mode: report.mode === "flusher" ? t("modeFlusher") : t("modeDirect"),
                when: format.dateTime(new Date(report.at), "dateTimeSeconds"),
              })}
            </p>
            {report.truncated ? (
              <p className="mt-1 text-sm text-amber-900">{t("truncated", { max: format.number(maxKeys) })}</p>
            ) : null}
            {rows.length === 0 ? (
              <p className="mt-2 text-sm text-green-900" data-testid="drift-none">
                {t("noDrift")}
              </p>
            ) : null}
          </>
        ) : null}
      </div>
      {rows.length > 0 ? <DriftTable rows={rows} busy={busy} onRepair={repairOne} /> : null}
    </section>
  );
}

/** An action failure in the viewer's language: Cache health's own wording first, then the shared error texts. */
function useErrorText() {
  const t = useTranslations("CacheHealth");
  const te = useTranslations("Errors");
  return (r: ActionFailure) => {
    const field = r.code === "INVALID_INPUT" ? Object.values(r.fieldErrors ?? {}).flat()[0] : undefined;
    const code = field ?? r.code;
    const own = `errors.${code}`;
    const text = isKey(t, own) ? t(own) : isKey(te, code) ? te(code) : t("errors.INTERNAL_ERROR");
    return r.errorId ? `${text} ${te("errorId", { id: r.errorId })}` : text;
  };
}
