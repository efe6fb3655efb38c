"use server";

import { redirect } from "next/navigation";
import { z } from "zod";
import { checkCredentials } from "@/lib/auth/credentials";
import { requestMeta } from "@/lib/auth/request-meta";
import { SignInSchema, safeNextPath } from "@/lib/auth/schemas";
import { createSession, destroySession } from "@/lib/auth/session";
import { guardedAction, toFieldErrors } from "@/lib/actions/safe-action";

export type SignInState = {
  code?: "INVALID_INPUT" | "INVALID_CREDENTIALS" | "RATE_LIMITED" | "INTERNAL_ERROR";
  fieldErrors?: Record<string, string[]>;
  retryAfterSeconds?: number;
  email?: string;
};

/**
 * Sign in with e-mail and password. The only action that runs without a session — it is what
 * creates one — and it is throttled per account and per IP instead.
 */
export async function signInAction(_prev: SignInState, formData: FormData): Promise<SignInState> {
  const parsed = SignInSchema.safeParse({
    email: formData.get("email"),
    password: formData.get("password"),
    locale: formData.get("locale"),
    next: formData.get("next") ?? undefined,
  });
  if (!parsed.success) {
    return { code: "INVALID_INPUT", fieldErrors: toFieldErrors(parsed.error), email: String(formData.get("email") ?? "") };
  }
  const { email, password, locale, next } = parsed.data;
  const meta = await requestMeta();
  let result;
  try {
    result = await checkCredentials(email, password, meta.ip);
    if (result.ok) await createSession(result.userId, meta);
  } catch (e) {
    console.error("[signIn] unexpected error", e);
    return { code: "INTERNAL_ERROR", email };
  }
  if (!result.ok) {
    return result.code === "RATE_LIMITED"
      ? { code: "RATE_LIMITED", retryAfterSeconds: result.retryAfterSeconds, email }
      : { code: "INVALID_CREDENTIALS", email };
  }
  redirect(safeNextPath(next, locale));
}

/** Sign out: revoke this session and return to the sign-in page. */
export const signOutAction = guardedAction({
  role: "user",
  schema: z.object({ locale: z.enum(["en", "zh"]).catch("en") }),
  handler: async ({ locale }) => {
    await destroySession();
    redirect(`/${locale}/sign-in`);
  },
});
