"use client";

import { useLocale, useTranslations } from "next-intl";
import { useActionState } from "react";

import { isKey } from "@/i18n/known-key";
import { registerAction, type RegisterState } from "@/lib/actions/register";
import type { PasswordFeedback } from "@/lib/auth/password-policy";

import { AuthField } from "./auth-field";
import { errorText } from "./error-text";
import { HaveAccount } from "./have-account";

/** The estimator's reasons (translation keys from the server) as one localized sentence group. */
function feedbackText(
  tp: ReturnType<typeof useTranslations<"PasswordPolicy">>,
  f: PasswordFeedback | undefined,
  sep: string,
): string {
  if (!f) return "";
  const key = (k: string) => (isKey(tp, k) ? tp(k) : null);
  const parts = [f.warning ? key(`warning.${f.warning}`) : null];
  for (const s of f.suggestions) parts.push(key(`suggestion.${s}`));
  return parts.filter(Boolean).join(sep);
}

export function RegisterForm({ locale }: { locale: string }) {
  const t = useTranslations("Register");
  const te = useTranslations("Errors");
  const tp = useTranslations("PasswordPolicy");
  const sep = useLocale() === "zh" ? "" : " "; // sentences: "。" needs no space after it
  const [state, formAction, pending] = useActionState<RegisterState, FormData>(registerAction, {});
  const fieldCode = (name: string) => state.fieldErrors?.[name]?.[0];
  const emailError = errorText(te, fieldCode("email"));
  const passwordCode = fieldCode("password");
  const passwordError =
    passwordCode === "PASSWORD_WEAK"
      ? [te("PASSWORD_WEAK"), feedbackText(tp, state.passwordFeedback, sep)].filter(Boolean).join(sep)
      : errorText(te, passwordCode);
  const formError =
    state.code === "RATE_LIMITED"
      ? te("REGISTER_RATE_LIMITED", { minutes: Math.max(1, Math.ceil((state.retryAfterSeconds ?? 60) / 60)) })
      : state.code === "INVALID_INPUT"
        ? emailError || passwordError
          ? null
          : te("INVALID_INPUT")
        : errorText(te, state.code);
  return (
    <form action={formAction} className="rounded-xl border border-slate-200 bg-white p-6 shadow-sm" noValidate>
      <h1 className="text-xl font-semibold">{t("title")}</h1>
      <p className="mt-1 text-sm text-slate-600">{t("subtitle")}</p>
      <input type="hidden" name="locale" value={locale} />
      <div aria-live="polite" id="register-error">
        {formError ? (
          <p role="alert" className="mt-4 rounded-md bg-red-50 px-3 py-2 text-sm text-red-800" data-code={state.code}>
            {formError}
            {state.errorId ? <span className="mt-1 block text-xs">{te("errorId", { id: state.errorId })}</span> : null}
          </p>
        ) : null}
      </div>
      <AuthField name="email" label={t("email")} autoComplete="email" defaultValue={state.email} error={emailError} />
      <AuthField
        name="password"
        label={t("password")}
        autoComplete="new-password"
        error={passwordError}
        hint={t("passwordHint")}
      />
      <button
        type="submit"
        disabled={pending}
        className="mt-6 w-full rounded-md bg-slate-900 px-4 py-2 text-sm font-medium text-white hover:bg-slate-700 disabled:opacity-60"
      >
        {pending ? t("submitting") : t("submit")}
      </button>
      <HaveAccount text={t("haveAccount")} signIn={t("signIn")} />
    </form>
  );
}
