"use client";

import { useTranslations } from "next-intl";
import { useState, useTransition } from "react";

import { ConfirmDialog } from "@/components/ui/confirm-dialog";
import { InlineError } from "@/components/ui/inline-error";
import { knownKey } from "@/i18n/known-key";
import { setUserStatusAction } from "@/lib/actions/users";

/**
 * Enable / disable one user; the server answers with a code that is shown translated. Disabling
 * asks first (it ends the user's sessions): one stray click — or a click in a framed page — must
 * not lock someone out. Enabling acts at once.
 */
export function UserStatusToggle({
  userId,
  status,
  email,
}: {
  userId: number;
  status: "active" | "disabled";
  email: string;
}) {
  const t = useTranslations("AdminUsers");
  const te = useTranslations("Errors");
  const [pending, startTransition] = useTransition();
  const [error, setError] = useState<string | null>(null);
  const next = status === "active" ? "disabled" : "active";
  const apply = () =>
    startTransition(async () => {
      setError(null);
      const r = await setUserStatusAction({ userId, status: next });
      // The action revalidates the users page: its answer carries the re-rendered row.
      if (!r.ok) setError(te(knownKey(te, r.code, "INTERNAL_ERROR")));
    });
  const button = (
    <button
      type="button"
      disabled={pending}
      aria-label={t(next === "disabled" ? "disableUser" : "enableUser", { email })}
      onClick={next === "active" ? apply : undefined}
      className="btn-row"
    >
      {t(next === "disabled" ? "disable" : "enable")}
    </button>
  );
  return (
    <span className="inline-flex flex-col items-end">
      {next === "disabled" ? (
        <ConfirmDialog
          trigger={button}
          title={t("disableConfirmTitle", { email })}
          description={t("disableConfirmBody", { email })}
          confirmLabel={t("disableConfirmAction")}
          cancelLabel={t("cancel")}
          onConfirm={apply}
        />
      ) : (
        button
      )}
      <InlineError message={error} />
    </span>
  );
}
