"use client";

import { useLocale, useTranslations } from "next-intl";
import { useActionState } from "react";

import { isKey } from "@/i18n/known-key";
import { registerAction, type RegisterState } from "@/lib/actions/register";
import type { PasswordFeedback } from "@/lib/auth/password-policy";

import { AuthField } from "./auth-field";
import { AuthFormError, authFormError, AuthSubmit } from "./auth-form-parts";
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
  const formError = authFormError(te, state, "REGISTER_RATE_LIMITED", !!(emailError || passwordError));
  return (
    <form action={formAction} className="rounded-xl border border-slate-200 bg-white p-6 shadow-sm" noValidate>
      <h1 className="text-xl font-semibold">{t("title")}</h1>
      <p className="mt-1 text-sm text-slate-600">{t("subtitle")}</p>
      <input type="hidden" name="locale" value={locale} />
      <AuthFormError id="register-error" te={te} text={formError} code={state.code} errorId={state.errorId} />
      <AuthField name="email" label={t("email")} autoComplete="email" defaultValue={state.email} error={emailError} />
      <AuthField
        name="password"
        label={t("password")}
        autoComplete="new-password"
        error={passwordError}
        hint={t("passwordHint")}
      />
      <AuthSubmit pending={pending} label={t("submit")} pendingLabel={t("submitting")} />
      <HaveAccount text={t("haveAccount")} signIn={t("signIn")} />
    </form>
  );
}
