"use client";

import type { useTranslations } from "next-intl";

import { errorText } from "./error-text";

type Errors = ReturnType<typeof useTranslations<"Errors">>;

/**
 * The form-level message of an auth action's answer: the rate limit with its minutes, a generic
 * INVALID_INPUT only when no field shows why, otherwise the code's text.
 */
export function authFormError(
  te: Errors,
  state: { code?: string; retryAfterSeconds?: number; provider?: string },
  rateLimited: "RATE_LIMITED" | "REGISTER_RATE_LIMITED",
  fieldShown: boolean,
): string | null {
  if (state.code === "RATE_LIMITED")
    return te(rateLimited, { minutes: Math.max(1, Math.ceil((state.retryAfterSeconds ?? 60) / 60)) });
  if (state.code === "INVALID_INPUT") return fieldShown ? null : te("INVALID_INPUT");
  if (state.code === "OAUTH_ACCOUNT") return te("OAUTH_ACCOUNT", { provider: state.provider ?? "other" });
  return errorText(te, state.code);
}

/** The polite region above the fields that announces the form-level error (with an unexpected error's id). */
export function AuthFormError({
  id,
  te,
  text,
  code,
  errorId,
}: {
  id: string;
  te: Errors;
  text: string | null;
  code?: string;
  errorId?: string;
}) {
  return (
    <div aria-live="polite" id={id}>
      {text ? (
        <p role="alert" className="mt-4 rounded-md bg-red-50 px-3 py-2 text-sm text-red-800" data-code={code}>
          {text}
          {errorId ? <span className="mt-1 block text-xs">{te("errorId", { id: errorId })}</span> : null}
        </p>
      ) : null}
    </div>
  );
}

/** The full-width submit button, disabled while the action runs. */
export function AuthSubmit({
  pending,
  label,
  pendingLabel,
}: {
  pending: boolean;
  label: string;
  pendingLabel: string;
}) {
  return (
    <button
      type="submit"
      disabled={pending}
      className="mt-6 w-full rounded-md bg-slate-900 px-4 py-2 text-sm font-medium text-white hover:bg-slate-700 disabled:opacity-60"
    >
      {pending ? pendingLabel : label}
    </button>
  );
}
