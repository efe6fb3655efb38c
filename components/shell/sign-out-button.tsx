"use client";

import { useLocale, useTranslations } from "next-intl";
import { useTransition } from "react";

import { signOutAction } from "@/lib/actions/auth";

export function SignOutButton() {
  const t = useTranslations("Common");
  const locale = useLocale();
  const [pending, startTransition] = useTransition();
  return (
    <button
      type="button"
      disabled={pending}
      onClick={() => startTransition(async () => void (await signOutAction({ locale })))}
      className="rounded-md border border-slate-300 px-3 py-1 text-sm hover:bg-slate-100 disabled:opacity-60"
    >
      {pending ? t("signingOut") : t("signOut")}
    </button>
  );
}
