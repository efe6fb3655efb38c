"use server";

import { redirect } from "next/navigation";
import { toFieldErrors } from "@/lib/actions/safe-action";
import { takeRegistrationSlot } from "@/lib/auth/rate-limit";
import { requestMeta } from "@/lib/auth/request-meta";
import { RegisterSchema } from "@/lib/auth/schemas";
import { createSession } from "@/lib/auth/session";
import { signUpUser } from "@/lib/users/signup";

export type RegisterState = {
  code?: "INVALID_INPUT" | "EMAIL_TAKEN" | "RATE_LIMITED" | "INTERNAL_ERROR";
  fieldErrors?: Record<string, string[]>;
  retryAfterSeconds?: number;
  email?: string;
};

/**
 * Public e-mail registration: creates the account with the sign-up quota snapshot (source
 * "email") and signs it in. Like sign-in it runs without a session; it is throttled per IP.
 */
export async function registerAction(_prev: RegisterState, formData: FormData): Promise<RegisterState> {
  const parsed = RegisterSchema.safeParse({
    email: formData.get("email"),
    password: formData.get("password"),
    locale: formData.get("locale"),
  });
  const email = String(formData.get("email") ?? "").slice(0, 255);
  if (!parsed.success) return { code: "INVALID_INPUT", fieldErrors: toFieldErrors(parsed.error), email };
  const meta = await requestMeta();
  try {
    const gate = await takeRegistrationSlot(meta.ip);
    if (!gate.allowed) return { code: "RATE_LIMITED", retryAfterSeconds: gate.retryAfterSeconds, email };
    const r = await signUpUser({ email: parsed.data.email, password: parsed.data.password, source: "email" });
    if (!r.ok) return { code: "EMAIL_TAKEN", fieldErrors: { email: ["EMAIL_TAKEN"] }, email };
    await createSession(BigInt(r.userId), meta);
  } catch (e) {
    console.error("[register] unexpected error", e);
    return { code: "INTERNAL_ERROR", email };
  }
  redirect(`/${parsed.data.locale}/dashboard`);
}
