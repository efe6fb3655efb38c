"use client";

import { useTranslations } from "next-intl";
import { useActionState } from "react";

import { Link } from "@/i18n/navigation";
import { signInAction, type SignInState } from "@/lib/actions/auth";

import { AuthField } from "./auth-field";
import { errorText } from "./error-text";

export function SignInForm({
  locale,
  next,
  registrationOpen,
}: {
  locale: string;
  next?: string;
  registrationOpen: boolean;
}) {
  const t = useTranslations("SignIn");
  const te = useTranslations("Errors");
  const [state, formAction, pending] = useActionState<SignInState, FormData>(signInAction, {});
  const emailError = errorText(te, state.fieldErrors?.email?.[0]);
  const passwordError = errorText(te, state.fieldErrors?.password?.[0]);
  const formError =
    state.code === "RATE_LIMITED"
      ? te("RATE_LIMITED", { minutes: Math.max(1, Math.ceil((state.retryAfterSeconds ?? 60) / 60)) })
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
      {next ? <input type="hidden" name="next" value={next} /> : null}
      <div aria-live="polite" id="sign-in-error">
        {formError ? (
          <p role="alert" className="mt-4 rounded-md bg-red-50 px-3 py-2 text-sm text-red-800">
            {formError}
          </p>
        ) : null}
      </div>
      <AuthField
        name="email"
        label={t("email")}
        autoComplete="username"
        defaultValue={state.email}
        error={emailError}
      />
      <AuthField name="password" label={t("password")} autoComplete="current-password" error={passwordError} />
      <button
        type="submit"
        disabled={pending}
        className="mt-6 w-full rounded-md bg-slate-900 px-4 py-2 text-sm font-medium text-white hover:bg-slate-700 disabled:opacity-60"
      >
        {pending ? t("submitting") : t("submit")}
      </button>
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
