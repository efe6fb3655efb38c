"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useFormatter, useTranslations } from "next-intl";
import { useEffect, useMemo, useRef, useState } from "react";

import { cellErrors, itemsText, parseQuotaText, sameQuotaText, type QuotaText } from "@/components/quota/format";
import { QuotaMatrix, type QuotaMatrixLabels } from "@/components/quota/quota-matrix";
import { ConfirmDialog } from "@/components/ui/confirm-dialog";
import { Dialog } from "@/components/ui/dialog";
import { LazyUsageHistory } from "@/components/usage-history/lazy";
import { knownKey } from "@/i18n/known-key";
import { Link } from "@/i18n/navigation";
import { resetUserPlatformQuotaWindowAction, saveUserPlatformQuotasAction } from "@/lib/actions/user-quotas";
import { platformLabel, type Platform } from "@/lib/billing/platforms";
import type { QuotaWindow } from "@/lib/billing/vocabulary";
import { fetchUserQuotas, quotaKeys } from "@/lib/quota/query";
import type { QuotaMap } from "@/lib/settings/quota-schema";

import { LimitOriginLine } from "./limit-origin-line";
import { QuotaUsageLine } from "./quota-usage-line";

export type ModalUser = { id: number; email: string };

const NO_PLATFORMS: readonly string[] = [];

/**
 * The per-user quota modal. Its opener (use-user-quota-modal.tsx) renders it and passes `onClose`
 * and `notify` (the page's toast, a polite live region that never takes focus), so this file never
 * imports its opener. Focus starts on the first cell once the values are in and returns to the
 * opener on close; Esc or the backdrop with unsaved edits asks before dropping them.
 */
export function UserQuotaModal({
  user,
  onClose: close,
  notify,
}: {
  user: ModalUser;
  onClose: () => void;
  notify: (text: string) => void;
}) {
  const t = useTranslations("UserQuotaModal");
  const te = useTranslations("Errors");
  const th = useTranslations("UsageHistory");
  const tp = useTranslations("Platforms");
  const format = useFormatter();
  const queryClient = useQueryClient();
  const [texts, setTextsState] = useState<QuotaText | null>(null);
  const [serverErrors, setServerErrors] = useState<Record<string, string>>({});
  // The version the edited text was seeded from: a save sends it, and a save from a stale one is
  // refused (CONFLICT). Until the first edit the form and the version both follow the query.
  const [seededVersion, setSeededVersion] = useState<string | null>(null);
  const [conflict, setConflict] = useState(false);
  const [reloading, setReloading] = useState(false);
  const [askDiscard, setAskDiscard] = useState(false);
  // The spend chart is fetched (history + its lazy chunk) only once the admin opens its section.
  const [historyOpen, setHistoryOpen] = useState(false);
  const body = useRef<HTMLDivElement>(null);
  const key = quotaKeys.user(user.id);
  const { data, isError, isPending, refetch } = useQuery({
    queryKey: key,
    queryFn: ({ signal }) => fetchUserQuotas(user.id, { signal }),
  });
  // What the edits started from (a cell that differs is marked), and what the form shows: the
  // editable text is seeded once from the server; later refetches only refresh usage.
  // The rows are the server's platform registry (the live gateway's in attached mode), sent as data.
  const platforms = data?.platforms ?? NO_PLATFORMS;
  const loaded = useMemo(() => (data ? itemsText(data.platform_quotas, data.platforms) : null), [data]);
  const form = texts ?? loaded;
  const version = seededVersion ?? data?.version ?? null;
  const dirty = texts !== null && loaded !== null && !sameQuotaText(texts, loaded, platforms);

  /** Every edit (a cell, clear all) goes through here: the first one pins the version it started from. */
  function setTexts(next: QuotaText) {
    if (texts === null && data) setSeededVersion(data.version);
    setTextsState(next);
  }

  // Initial focus on the first cell, once, when the values arrive — only if focus is still where
  // the dialog put it (the user may have moved on). Refetches and toasts never move it.
  const focusedFirst = useRef(false);
  useEffect(() => {
    if (!form || focusedFirst.current) return;
    focusedFirst.current = true;
    const content = body.current?.closest<HTMLElement>("[role=dialog]");
    if (document.activeElement === content || document.activeElement === document.body)
      body.current?.querySelector<HTMLInputElement>("input[data-cell]")?.focus();
  }, [form]);

  const windowName = { daily: t("windowDaily"), weekly: t("windowWeekly"), monthly: t("windowMonthly") };
  const labels: QuotaMatrixLabels = {
    headers: { platform: t("platform"), daily: t("daily"), weekly: t("weekly"), monthly: t("monthly") },
    cell: (p, w) => t("cellLabel", { platform: platformLabel(p, tp), window: windowName[w] }),
    placeholder: () => t("placeholder"),
  };
  const clientErrors: Record<string, string> = {};
  const parsed = form ? parseQuotaText(form, "quotas", clientErrors, platforms) : null;
  const errors: Record<string, string> = { ...serverErrors, ...clientErrors };
  const when = (iso: string) => format.dateTime(new Date(iso), "monthDayTime");
  const failed = (prefix: string, r: { code: string; errorId?: string } | null) =>
    r
      ? `${prefix}: ${te(knownKey(te, r.code, "INTERNAL_ERROR"))}${r.errorId ? ` ${te("errorId", { id: r.errorId })}` : ""}`
      : prefix;

  function setCell(path: string, p: Platform, w: QuotaWindow, v: string) {
    setServerErrors((prev) => Object.fromEntries(Object.entries(prev).filter(([k]) => k !== path)));
    setTexts({ ...form!, [p]: { ...form![p], [w]: v } });
  }

  // The actions revalidate the users page themselves: the list's row updates with the action's
  // response, so no router.refresh() (that was a second render of the page).
  const save = useMutation({
    mutationFn: (input: { version: string; quotas: QuotaMap }) =>
      saveUserPlatformQuotasAction({ userId: user.id, ...input }).catch(() => null),
    onSuccess: (r) => {
      if (r?.ok) {
        queryClient.setQueryData(key, r.data.view);
        notify(t("updateSuccess"));
        close();
        return;
      }
      if (r?.code === "INVALID_INPUT" && r.fieldErrors) setServerErrors(cellErrors(r.fieldErrors));
      if (r?.code === "CONFLICT") return setConflict(true); // shown in the dialog with its reload
      notify(failed(t("updateFailed"), r));
    },
  });
  const reset = useMutation({
    mutationFn: (cell: { platform: Platform; window: QuotaWindow }) =>
      resetUserPlatformQuotaWindowAction({ userId: user.id, ...cell }).catch(() => null),
    onSuccess: (r, { platform: p, window: w }) => {
      if (!r?.ok) return notify(failed(t("resetFailed"), r));
      queryClient.setQueryData(key, r.data.view);
      // A reset keeps the limits: edits made on exactly the version it was applied to stay current.
      if (seededVersion !== null && seededVersion === r.data.applied.from) setSeededVersion(r.data.applied.to);
      notify(t("resetSuccess", { platform: platformLabel(p, tp), window: windowName[w] }));
    },
  });

  function submit() {
    if (!parsed || version === null) return;
    // Cells by their display names ("OpenAI daily"), never raw ids ("openai.daily").
    const bad = Object.keys(clientErrors).map((path) => {
      const cell = path.slice("quotas.".length);
      const dot = cell.lastIndexOf(".");
      const w = cell.slice(dot + 1) as QuotaWindow;
      return `${platformLabel(cell.slice(0, dot), tp)} ${windowName[w] ?? w}`;
    });
    if (bad.length) return notify(t("invalidNumber", { fields: bad.join(", ") }));
    // Every registry platform is sent (DESIGN §3.3): saving never drops one the admin did not see.
    save.mutate({ version, quotas: parsed });
  }

  function askReset(p: Platform, w: QuotaWindow) {
    if (window.confirm(t("resetConfirm", { platform: platformLabel(p, tp), window: windowName[w] })))
      reset.mutate({ platform: p, window: w });
  }

  /** After a conflict: fetch the current values and start over from them (the edits are dropped). */
  async function reload() {
    setReloading(true);
    const r = await refetch();
    setReloading(false);
    if (r.isError) return;
    setTextsState(null);
    setSeededVersion(null);
    setServerErrors({});
    setConflict(false);
  }

  const footer = (
    <div className="flex flex-wrap items-center justify-between gap-x-3 gap-y-2">
      <div className="flex min-w-0 flex-wrap items-center gap-x-4 gap-y-1">
        <ConfirmDialog
          trigger={
            <button type="button" disabled={!form} className="text-sm text-red-700 underline disabled:opacity-40">
              {t("clearAll")}
            </button>
          }
          title={t("clearAllConfirmTitle")}
          description={t("clearAllConfirm")}
          confirmLabel={t("clearAllConfirmAction")}
          cancelLabel={t("cancel")}
          onConfirm={() => setTexts(itemsText([], platforms))}
        />
        <span className="text-xs text-slate-500" data-testid="modal-last-change">
          {data?.last_change
            ? t("lastChange", { email: data.last_change.actor_email, time: when(data.last_change.at) })
            : data
              ? t("noChange")
              : null}{" "}
          {data?.last_change ? (
            <Link
              href={{ pathname: "/admin/audit", query: { user: String(user.id) } }}
              className="underline"
              data-testid="modal-history-link"
            >
              {t("history")}
            </Link>
          ) : null}
        </span>
      </div>
      <div className="ml-auto flex gap-2">
        <button
          type="button"
          onClick={close}
          className="rounded-md border border-slate-300 px-4 py-2 text-sm hover:bg-slate-100"
        >
          {t("cancel")}
        </button>
        <button
          type="button"
          disabled={save.isPending || !form || conflict}
          onClick={submit}
          className="rounded-md bg-slate-900 px-4 py-2 text-sm font-medium text-white hover:bg-slate-700 disabled:opacity-60"
        >
          {save.isPending ? t("saving") : t("save")}
        </button>
      </div>
    </div>
  );

  return (
    <Dialog
      open
      onOpenChange={(open) => !open && close()}
      title={t("title")}
      description={t("subtitle", { email: user.email })}
      footer={footer}
      onOpenAutoFocus={(e) => {
        // Focus goes to the first cell when there is one (cached values); else it waits on the
        // dialog itself until the values arrive (the effect above).
        const first = (e.currentTarget as HTMLElement).querySelector<HTMLInputElement>("input[data-cell]");
        e.preventDefault();
        if (first) focusedFirst.current = true;
        (first ?? (e.currentTarget as HTMLElement)).focus();
      }}
      onDismissAttempt={() => {
        if (!dirty) return true;
        setAskDiscard(true);
        return false;
      }}
    >
      <div ref={body}>
        {isPending ? <p className="py-8 text-center text-slate-500">{t("loading")}</p> : null}
        {isError ? (
          <p role="alert" className="rounded-md bg-red-50 px-3 py-2 text-sm text-red-800">
            {t("loadFailed")}
          </p>
        ) : null}
        {conflict ? (
          <div
            role="alert"
            data-testid="quota-conflict"
            className="mb-3 flex flex-wrap items-center justify-between gap-2 rounded-md bg-amber-50 px-3 py-2 text-sm text-amber-900"
          >
            <span>{t("conflict")}</span>
            <button
              type="button"
              disabled={reloading}
              onClick={() => void reload()}
              className="rounded-md border border-amber-300 bg-white px-3 py-1 text-sm font-medium hover:bg-amber-100 disabled:opacity-60"
            >
              {reloading ? t("loading") : t("reload")}
            </button>
          </div>
        ) : null}
        {data?.active_subscription ? (
          <p
            role="note"
            data-testid="subscription-warning"
            className="mb-3 rounded-md border border-amber-200 bg-amber-50 px-3 py-2 text-sm text-amber-900"
          >
            {t("subscriptionWarning")}
          </p>
        ) : null}
        {data && data.pending_invalidations > 0 ? (
          <p
            role="status"
            data-testid="pending-invalidations"
            className="mb-3 rounded-md bg-amber-50 px-3 py-2 text-sm text-amber-900"
          >
            {t("pending", { count: data.pending_invalidations })}
          </p>
        ) : null}
        {data && form ? (
          <QuotaMatrix
            platforms={platforms}
            prefix="quotas"
            text={form}
            loaded={loaded ?? undefined}
            errors={errors}
            labels={labels}
            onChange={setCell}
            cellExtra={(p, w) => (
              <>
                <QuotaUsageLine
                  platform={p}
                  window={w}
                  item={data.platform_quotas.find((x) => x.platform === p)}
                  resetLabel={t("resetButton", { platform: platformLabel(p, tp), window: windowName[w] })}
                  disabled={reset.isPending}
                  onReset={() => askReset(p, w)}
                />
                <LimitOriginLine origin={data.origins?.[p]?.[w]} userId={user.id} />
              </>
            )}
          />
        ) : null}
        <p className="mt-3 text-xs text-slate-500">{t("hint")}</p>
        <details
          className="mt-4 rounded-md border border-slate-200 px-3 py-2"
          data-testid="modal-history"
          onToggle={(e) => setHistoryOpen(e.currentTarget.open)}
        >
          <summary className="cursor-pointer text-sm font-medium">{th("modalSummary")}</summary>
          {historyOpen ? <LazyUsageHistory scope={{ kind: "user", userId: user.id }} /> : null}
        </details>
      </div>
      <ConfirmDialog
        open={askDiscard}
        onOpenChange={setAskDiscard}
        title={t("discardTitle")}
        description={t("discardText")}
        confirmLabel={t("discardAction")}
        cancelLabel={t("keepEditing")}
        onConfirm={close}
      />
    </Dialog>
  );
}
