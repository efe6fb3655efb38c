"use client";

import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useFormatter, useTranslations } from "next-intl";
import { useRouter } from "next/navigation";
import { useEffect, useMemo, useRef, useState, useTransition } from "react";

import { cellErrors, itemLimits, parseQuotaText, quotaText, type QuotaText } from "@/components/quota/format";
import { QuotaMatrix, type QuotaMatrixLabels } from "@/components/quota/quota-matrix";
import { ConfirmDialog } from "@/components/ui/confirm-dialog";
import { resetUserPlatformQuotaWindowAction, saveUserPlatformQuotasAction } from "@/lib/actions/user-quotas";
import { isPlatform, type Platform } from "@/lib/billing/platforms";
import type { AdminQuotaItem } from "@/lib/billing/quota-view";
import type { UserQuotasView } from "@/lib/quota/admin";
import { emptyQuotaMap, type QuotaWindow } from "@/lib/settings/quota-schema";

export const userQuotaKeys = { detail: (id: number) => ["admin", "user-quotas", id] as const };

type Texts = QuotaText;

/** The matrix as text: every registry platform, a platform without a row as unlimited. */
const textsFrom = (items: AdminQuotaItem[]): Texts => {
  const m = emptyQuotaMap();
  for (const i of items) if (isPlatform(i.platform)) m[i.platform] = itemLimits(i);
  return quotaText(m);
};

export type ModalUser = { id: number; email: string };

/**
 * The per-user quota modal. Its opener (use-user-quota-modal.tsx) renders it and passes `onClose`
 * and `notify` (the page's toast), so this file never imports its opener.
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
  const tp = useTranslations("Platforms");
  const format = useFormatter();
  const router = useRouter();
  const queryClient = useQueryClient();
  const dialogRef = useRef<HTMLDivElement>(null);
  const [pending, startTransition] = useTransition();
  const [resetting, setResetting] = useState<string | null>(null);
  const [texts, setTextsState] = useState<Texts | null>(null);
  const [serverErrors, setServerErrors] = useState<Record<string, string>>({});
  // The version the edited text was seeded from: a save sends it, and a save from a stale one is
  // refused (CONFLICT). Until the first edit the form and the version both follow the query.
  const [seededVersion, setSeededVersion] = useState<string | null>(null);
  const [conflict, setConflict] = useState(false);
  const [reloading, setReloading] = useState(false);
  const { data, isError, isPending, refetch } = useQuery({
    queryKey: userQuotaKeys.detail(user.id),
    queryFn: async (): Promise<UserQuotasView> => {
      const res = await fetch(`/api/v1/admin/users/${user.id}/platform-quotas`, { cache: "no-store" });
      if (!res.ok) throw new Error(String(res.status));
      return (await res.json()).data;
    },
  });
  // The editable text is seeded once from the server; later refetches only refresh usage.
  // What the edits started from (a cell that differs is marked), and what the form shows.
  const loaded = useMemo(() => (data ? textsFrom(data.platform_quotas) : null), [data]);
  const form = texts ?? loaded;
  const version = seededVersion ?? data?.version ?? null;

  /** Every edit (a cell, clear all) goes through here: the first one pins the version it started from. */
  function setTexts(next: Texts) {
    if (texts === null && data) setSeededVersion(data.version);
    setTextsState(next);
  }

  useEffect(() => {
    // A confirm dialog on top handles (and preventDefaults) its own Esc: that closes only it.
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && !e.defaultPrevented && close();
    document.addEventListener("keydown", onKey);
    dialogRef.current?.querySelector<HTMLInputElement>("input")?.focus();
    return () => document.removeEventListener("keydown", onKey);
  }, [close, data]);

  const windowName = { daily: t("windowDaily"), weekly: t("windowWeekly"), monthly: t("windowMonthly") };
  const labels: QuotaMatrixLabels = {
    headers: { platform: t("platform"), daily: t("daily"), weekly: t("weekly"), monthly: t("monthly") },
    cell: (p, w) => t("cellLabel", { platform: tp(p), window: windowName[w] }),
    placeholder: () => t("placeholder"),
  };
  const clientErrors: Record<string, string> = {};
  const parsed = form ? parseQuotaText(form, "quotas", clientErrors) : null;
  const errors: Record<string, string> = { ...serverErrors, ...clientErrors };
  const money = (n: number) =>
    format.number(n, { style: "currency", currency: "USD", currencyDisplay: "narrowSymbol" });
  const when = (iso: string) =>
    format.dateTime(new Date(iso), {
      month: "numeric",
      day: "numeric",
      hour: "2-digit",
      minute: "2-digit",
      hour12: false,
    });

  function setCell(path: string, p: Platform, w: QuotaWindow, v: string) {
    setServerErrors((e) => {
      const next = { ...e };
      delete next[path];
      return next;
    });
    setTexts({ ...form!, [p]: { ...form![p], [w]: v } });
  }

  function save() {
    if (!form || !parsed || version === null) return;
    const bad = Object.keys(clientErrors).map((path) => path.slice("quotas.".length));
    if (bad.length) {
      notify(t("invalidNumber", { fields: bad.join(", ") }));
      return;
    }
    // Every registry platform is sent (DESIGN §3.3): saving never drops one the admin did not see.
    const quotas = parsed;
    startTransition(async () => {
      const r = await saveUserPlatformQuotasAction({ userId: user.id, version, quotas }).catch(() => null);
      if (r?.ok) {
        queryClient.setQueryData(userQuotaKeys.detail(user.id), r.data.view);
        notify(t("updateSuccess"));
        router.refresh();
        close();
        return;
      }
      if (r?.code === "INVALID_INPUT" && r.fieldErrors) {
        // The server's paths are the cells' paths (`quotas.openai.daily`).
        setServerErrors(cellErrors(r.fieldErrors));
      }
      if (r?.code === "CONFLICT") {
        setConflict(true); // shown in the dialog with its reload; nothing was saved
        return;
      }
      notify(r ? `${t("updateFailed")}: ${te(r.code as "INTERNAL_ERROR")}` : t("updateFailed"));
    });
  }

  async function reset(p: Platform, w: QuotaWindow) {
    if (!window.confirm(t("resetConfirm", { platform: tp(p), window: windowName[w] }))) return;
    setResetting(`${p}.${w}`);
    const r = await resetUserPlatformQuotaWindowAction({ userId: user.id, platform: p, window: w }).catch(() => null);
    setResetting(null);
    if (r?.ok) {
      queryClient.setQueryData(userQuotaKeys.detail(user.id), r.data.view);
      // A reset keeps the limits: edits made on exactly the version it was applied to stay current.
      if (seededVersion !== null && seededVersion === r.data.applied.from) setSeededVersion(r.data.applied.to);
      notify(t("resetSuccess", { platform: tp(p), window: windowName[w] }));
      router.refresh();
    } else notify(r ? `${t("resetFailed")}: ${te(r.code as "INTERNAL_ERROR")}` : t("resetFailed"));
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

  return (
    <div
      className="fixed inset-0 z-40 flex items-start justify-center overflow-y-auto bg-slate-900/40 p-4"
      onMouseDown={(e) => e.target === e.currentTarget && close()}
    >
      <div
        ref={dialogRef}
        role="dialog"
        aria-modal="true"
        aria-labelledby="uqm-title"
        className="my-8 w-full max-w-5xl rounded-xl bg-white shadow-xl"
      >
        <div className="border-b border-slate-200 px-6 py-4">
          <h2 id="uqm-title" className="text-lg font-semibold">
            {t("title")}
          </h2>
          <p className="text-sm text-slate-600">{t("subtitle", { email: user.email })}</p>
        </div>
        <div className="px-6 py-4">
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
              prefix="quotas"
              text={form}
              loaded={loaded ?? undefined}
              errors={errors}
              labels={labels}
              onChange={setCell}
              cellExtra={(p, w) => {
                const item = data.platform_quotas.find((x) => x.platform === p);
                const used = item ? item[`${w}_usage_usd`] : 0;
                const resets = item ? item[`${w}_window_resets_at`] : null;
                return (
                  <div
                    className="mt-1 flex items-center justify-between gap-1 text-xs text-slate-500"
                    data-usage={`${p}.${w}`}
                  >
                    <span>
                      {t("used", { amount: money(used) })}
                      {resets ? <> · {t("resetsAt", { time: when(resets) })}</> : null}
                    </span>
                    {item ? (
                      <button
                        type="button"
                        title={t("resetButton", { platform: tp(p), window: windowName[w] })}
                        aria-label={t("resetButton", { platform: tp(p), window: windowName[w] })}
                        disabled={resetting !== null}
                        onClick={() => void reset(p, w)}
                        className="rounded px-1 text-base leading-none hover:bg-slate-100 disabled:opacity-40"
                      >
                        ↻
                      </button>
                    ) : null}
                  </div>
                );
              }}
            />
          ) : null}
          <p className="mt-3 text-xs text-slate-500">{t("hint")}</p>
        </div>
        <div className="flex flex-wrap items-center justify-between gap-3 border-t border-slate-200 px-6 py-3">
          <div className="flex items-center gap-4">
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
              onConfirm={() => setTexts(textsFrom([]))}
            />
            <span className="text-xs text-slate-500" data-testid="modal-last-change">
              {data?.last_change
                ? t("lastChange", { email: data.last_change.actor_email, time: when(data.last_change.at) })
                : data
                  ? t("noChange")
                  : null}
            </span>
          </div>
          <div className="flex gap-2">
            <button
              type="button"
              onClick={close}
              className="rounded-md border border-slate-300 px-4 py-2 text-sm hover:bg-slate-100"
            >
              {t("cancel")}
            </button>
            <button
              type="button"
              disabled={pending || !form || conflict}
              onClick={save}
              className="rounded-md bg-slate-900 px-4 py-2 text-sm font-medium text-white hover:bg-slate-700 disabled:opacity-60"
            >
              {pending ? t("saving") : t("save")}
            </button>
          </div>
        </div>
      </div>
    </div>
  );
}
