"use client";

import { useActionState } from "react";
import { useTranslations } from "next-intl";
import { signInAction, type SignInState } from "@/lib/actions/auth";
import { Link } from "@/i18n/navigation";

const inputClass =
  "mt-1 block w-full rounded-md border border-slate-300 px-3 py-2 shadow-sm focus:border-blue-600 focus:outline-none focus:ring-2 focus:ring-blue-600/30 aria-[invalid=true]:border-red-600";

export function SignInForm({ locale, next }: { locale: string; next?: string }) {
  const t = useTranslations("SignIn");
  const te = useTranslations("Errors");
  const [state, formAction, pending] = useActionState<SignInState, FormData>(signInAction, {});
  const fieldError = (name: string) => state.fieldErrors?.[name]?.[0];
  const formError =
    state.code === "RATE_LIMITED"
      ? te("RATE_LIMITED", { minutes: Math.max(1, Math.ceil((state.retryAfterSeconds ?? 60) / 60)) })
      : state.code && state.code !== "INVALID_INPUT"
        ? te(state.code)
        : null;

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
      {(["email", "password"] as const).map((name) => (
        <label key={name} className="mt-4 block text-sm font-medium">
          {t(name)}
          <input
            className={inputClass}
            name={name}
            type={name === "email" ? "email" : "password"}
            autoComplete={name === "email" ? "username" : "current-password"}
            defaultValue={name === "email" ? state.email : undefined}
            required
            aria-invalid={fieldError(name) ? true : undefined}
            aria-describedby={fieldError(name) ? `${name}-error` : undefined}
          />
          {fieldError(name) ? (
            <span id={`${name}-error`} className="mt-1 block text-sm text-red-700">
              {te(fieldError(name) as "REQUIRED")}
            </span>
          ) : null}
        </label>
      ))}
      <button
        type="submit"
        disabled={pending}
        className="mt-6 w-full rounded-md bg-slate-900 px-4 py-2 text-sm font-medium text-white hover:bg-slate-700 disabled:opacity-60"
      >
        {pending ? t("submitting") : t("submit")}
      </button>
      <p className="mt-4 text-center text-sm text-slate-600">
        {t("noAccount")}{" "}
        <Link href="/register" className="font-medium text-blue-700 underline">
          {t("register")}
        </Link>
      </p>
    </form>
  );
}
