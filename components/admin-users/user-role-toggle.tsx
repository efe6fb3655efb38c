"use client";

import { useTranslations } from "next-intl";
import { useState, useTransition } from "react";

import { InlineError } from "@/components/ui/inline-error";
import { knownKey } from "@/i18n/known-key";
import { useRouter as useLocaleRouter } from "@/i18n/navigation";
import { setUserRoleAction } from "@/lib/actions/users";

/**
 * Make admin / make user for one row. The server enforces the last-admin rule and ends the user's
 * other sessions; admins who give up their own role leave the admin pages for the dashboard.
 */
export function UserRoleToggle({
  userId,
  role,
  email,
  self,
}: {
  userId: number;
  role: "admin" | "user";
  email: string;
  self: boolean;
}) {
  const t = useTranslations("AdminUsers");
  const te = useTranslations("Errors");
  const localeRouter = useLocaleRouter();
  const [pending, startTransition] = useTransition();
  const [error, setError] = useState<string | null>(null);
  const next = role === "admin" ? "user" : "admin";
  return (
    <span className="inline-flex flex-col items-end">
      <button
        type="button"
        disabled={pending}
        data-testid="role-toggle"
        aria-label={t(next === "admin" ? "makeAdminFor" : "makeUserFor", { email })}
        onClick={() =>
          startTransition(async () => {
            setError(null);
            const r = await setUserRoleAction({ userId, role: next }).catch(() => null);
            if (!r) setError(te("INTERNAL_ERROR"));
            else if (!r.ok) setError(te(knownKey(te, r.code, "INTERNAL_ERROR")));
            // Otherwise the action's revalidation re-renders the row; a self-demotion leaves the page.
            else if (self && next === "user") localeRouter.replace("/dashboard");
          })
        }
        className="btn-row"
      >
        {t(next === "admin" ? "makeAdmin" : "makeUser")}
      </button>
      <InlineError message={error} />
    </span>
  );
}
