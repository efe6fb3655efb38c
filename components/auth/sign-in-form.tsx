"use client";

import { useTranslations } from "next-intl";
import { useActionState } from "react";

import { Link } from "@/i18n/navigation";
import { signInAction, type SignInState } from "@/lib/actions/auth";

import { AuthField } from "./auth-field";
import { AuthFormError, authFormError, AuthSubmit } from "./auth-form-parts";
import { errorText } from "./error-text";

export function SignInForm({
  locale,
  next,
  registrationOpen,
  oauthHint,
}: {
  locale: string;
  next?: string;
  registrationOpen: boolean;
  /** attached to a gateway: say that OAuth sign-ups need a password set on the gateway first */
  oauthHint?: boolean;
}) {
  const t = useTranslations("SignIn");
  const te = useTranslations("Errors");
  const [state, formAction, pending] = useActionState<SignInState, FormData>(signInAction, {});
  const emailError = errorText(te, state.fieldErrors?.email?.[0]);
  const passwordError = errorText(te, state.fieldErrors?.password?.[0]);
  const formError = authFormError(te, state, "RATE_LIMITED", !!(emailError || passwordError));

  return (
    <form action={formAction} className="rounded-xl border border-slate-200 bg-white p-6 shadow-sm" noValidate>
      <h1 className="text-xl font-semibold">{t("title")}</h1>
      <p className="mt-1 text-sm text-slate-600">{t("subtitle")}</p>
      <input type="hidden" name="locale" value={locale} />
      {next ? <input type="hidden" name="next" value={next} /> : null}
      <AuthFormError id="sign-in-error" te={te} text={formError} code={state.code} />
      <AuthField
        name="email"
        label={t("email")}
        autoComplete="username"
        defaultValue={state.email}
        error={emailError}
      />
      <AuthField name="password" label={t("password")} autoComplete="current-password" error={passwordError} />
      <AuthSubmit pending={pending} label={t("submit")} pendingLabel={t("submitting")} />
      {oauthHint ? (
        <p className="mt-4 text-sm text-slate-600" data-testid="oauth-hint">
          {t("oauthHint")}
        </p>
      ) : null}
      {registrationOpen ? (
        <p className="mt-4 text-center text-sm text-slate-600">
          {t("noAccount")}{" "}
          <Link href="/register" className="font-medium text-blue-700 underline">
            {t("register")}
          </Link>
        </p>
      ) : null}
    </form>
  );
}
