"use client";

import { useTranslations } from "next-intl";
import { useState, useTransition } from "react";

import { ConfirmDialog } from "@/components/ui/confirm-dialog";
import { InlineError } from "@/components/ui/inline-error";
import { knownKey } from "@/i18n/known-key";
import { undoAuditEntryAction } from "@/lib/actions/audit";

/**
 * Undo one audit entry after a confirmation: the server restores the entry's "before" values as a
 * new audited change, or refuses (UNDO_CONFLICT when they changed since) with a translated
 * message. The action revalidates the page, so the new entry appears on top.
 */
export function AuditUndoButton({ entryId, undone }: { entryId: number; undone: boolean }) {
  const t = useTranslations("AdminAudit");
  const te = useTranslations("Errors");
  const [pending, startTransition] = useTransition();
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState(false);
  const undo = () =>
    startTransition(async () => {
      setError(null);
      const r = await undoAuditEntryAction({ entryId });
      if (r.ok) setDone(true);
      else setError(te(knownKey(te, r.code, "INTERNAL_ERROR")));
    });
  // Undone elsewhere (or earlier): nothing to offer. Undone from here: the revalidated page marks
  // the entry undone, and this stays mounted (same key) to keep saying so.
  if (undone && !done) return null;
  return (
    <span className="inline-flex flex-col items-end" data-testid="audit-undo">
      <ConfirmDialog
        trigger={
          <button
            type="button"
            disabled={pending || done}
            aria-label={t("undoFor", { id: entryId })}
            className="rounded-md border border-slate-300 px-2 py-1 text-xs break-keep hover:bg-slate-100 disabled:opacity-60"
          >
            {t("undo")}
          </button>
        }
        title={t("undoConfirmTitle", { id: entryId })}
        description={t("undoConfirmBody")}
        confirmLabel={t("undoConfirmAction")}
        cancelLabel={t("cancel")}
        onConfirm={undo}
      />
      {done ? (
        <span role="status" className="mt-1 text-xs text-green-800" data-testid="audit-undo-done">
          {t("undone")}
        </span>
      ) : null}
      <InlineError message={error} />
    </span>
  );
}
