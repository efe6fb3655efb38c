"use server";

import { redirect } from "next/navigation";
import { z } from "zod";

import { guardedAction, toFieldErrors } from "@/lib/actions/safe-action";
import { checkCredentials, type OAuthProvider } from "@/lib/auth/credentials";
import { readKnownDevices, rememberKnownDevice } from "@/lib/auth/device";
import { requestMeta } from "@/lib/auth/request-meta";
import { safeNextPath, SignInSchema } from "@/lib/auth/schemas";
import { createSession, destroySession } from "@/lib/auth/session";

export type SignInState = {
  code?:
    | "INVALID_INPUT"
    | "INVALID_CREDENTIALS"
    | "OAUTH_ACCOUNT"
    | "TWO_FACTOR_REQUIRED"
    | "ADMINS_ONLY"
    | "RATE_LIMITED"
    | "INTERNAL_ERROR";
  fieldErrors?: Record<string, string[]>;
  retryAfterSeconds?: number;
  /** OAUTH_ACCOUNT: the provider the address's form names */
  provider?: OAuthProvider;
  email?: string;
};

/**
 * Sign in with e-mail and password. The only action that runs without a session — it is what
 * creates one — and it is throttled instead (lib/auth/sign-in-throttle.ts). A successful sign-in
 * makes this browser a known device of the account, which nobody else's failures can lock out.
 */
export async function signInAction(_prev: SignInState, formData: FormData): Promise<SignInState> {
  // Anyone can post any arguments to an action id: a JSON body, a plain object, null.
  if (!(formData instanceof FormData)) return { code: "INVALID_INPUT" };
  const parsed = SignInSchema.safeParse({
    email: formData.get("email"),
    password: formData.get("password"),
    locale: formData.get("locale"),
    next: formData.get("next") ?? undefined,
  });
  if (!parsed.success) {
    return {
      code: "INVALID_INPUT",
      fieldErrors: toFieldErrors(parsed.error),
      email: String(formData.get("email") ?? ""),
    };
  }
  const { email, password, locale, next } = parsed.data;
  const meta = await requestMeta();
  let result;
  try {
    const devices = await readKnownDevices();
    result = await checkCredentials(email, password, { ip: meta.ip, devices });
    if (result.ok) {
      await createSession(result.userId, meta);
      await rememberKnownDevice(devices, result.userId, result.deviceNonce);
    }
  } catch (e) {
    console.error("[signIn] unexpected error", e);
    return { code: "INTERNAL_ERROR", email };
  }
  if (!result.ok) {
    if (result.code === "RATE_LIMITED")
      return { code: "RATE_LIMITED", retryAfterSeconds: result.retryAfterSeconds, email };
    if (result.code === "OAUTH_ACCOUNT") return { code: "OAUTH_ACCOUNT", provider: result.provider, email };
    return { code: result.code, email };
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
