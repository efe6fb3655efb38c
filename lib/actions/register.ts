"use server";

import { randomUUID } from "node:crypto";
import { redirect } from "next/navigation";

import { toFieldErrors } from "@/lib/actions/safe-action";
import { hashPassword } from "@/lib/auth/password";
import { checkPasswordPolicy, type PasswordFeedback } from "@/lib/auth/password-policy";
import { takeRegistrationSlot } from "@/lib/auth/rate-limit";
import { requestMeta } from "@/lib/auth/request-meta";
import { RegisterSchema } from "@/lib/auth/schemas";
import { createSession } from "@/lib/auth/session";
import { isRegistrationOpen } from "@/lib/settings/registration";
import { isReservedSignupEmail, signUpUser } from "@/lib/users/signup";

export type RegisterState = {
  code?: "REGISTRATION_CLOSED" | "INVALID_INPUT" | "REGISTRATION_FAILED" | "RATE_LIMITED" | "INTERNAL_ERROR";
  fieldErrors?: Record<string, string[]>;
  /** why the estimator refused the password (PASSWORD_WEAK), as translation keys */
  passwordFeedback?: PasswordFeedback;
  retryAfterSeconds?: number;
  errorId?: string;
  email?: string;
};

/**
 * Public e-mail registration: creates the account with the sign-up quota snapshot (source
 * "email") and signs it in. Like sign-in it runs without a session. In order:
 *
 * 1. anything but a form is INVALID_INPUT (a server action takes any argument over HTTP);
 * 2. closed (REGISTRATION_ENABLED and the admin's switch, lib/settings/registration.ts) →
 *    REGISTRATION_CLOSED for any input, nothing read from it, nothing written;
 * 3. the form's fields (codes, never raw zod text);
 * 4. one slot of the per-client limit — before the CPU-heavy steps (estimator, bcrypt), so each
 *    of them is bounded per client;
 * 5. the password policy (length, zxcvbn-ts score, the e-mail as user input);
 * 6. the account. A taken address — and a reserved one — gets REGISTRATION_FAILED, the same
 *    answer as any other refusal we do not explain, after the same bcrypt work as a success.
 *
 * What a neutral answer can and cannot hide: this product delivers no e-mail, so an address
 * cannot be verified, and a sign-up that succeeds signs the new account in — which tells the
 * caller the address was free. We do not say "taken" (unlike the old EMAIL_TAKEN), and every
 * probe of a free address creates a real account an admin can see; registration is off by default
 * for that reason.
 */
export async function registerAction(_prev: unknown, formData: unknown): Promise<RegisterState> {
  if (!(formData instanceof FormData)) return { code: "INVALID_INPUT" };
  const field = (name: string) => {
    const v = formData.get(name);
    return typeof v === "string" ? v : undefined;
  };
  const email = (field("email") ?? "").slice(0, 255);
  let locale: "en" | "zh";
  try {
    if (!(await isRegistrationOpen())) return { code: "REGISTRATION_CLOSED" };
    const parsed = RegisterSchema.safeParse({
      email: field("email"),
      password: field("password"),
      locale: field("locale"),
    });
    if (!parsed.success) return { code: "INVALID_INPUT", fieldErrors: toFieldErrors(parsed.error), email };
    locale = parsed.data.locale;
    const { email: address, password } = parsed.data;
    const meta = await requestMeta();
    const gate = await takeRegistrationSlot(meta.ip);
    if (!gate.allowed) return { code: "RATE_LIMITED", retryAfterSeconds: gate.retryAfterSeconds, email };
    const policy = checkPasswordPolicy(password, { email: address });
    if (!policy.ok) {
      return {
        code: "INVALID_INPUT",
        fieldErrors: { password: [policy.code] },
        ...(policy.code === "PASSWORD_WEAK" ? { passwordFeedback: policy.feedback } : {}),
        email,
      };
    }
    if (isReservedSignupEmail(address)) {
      await hashPassword(password); // the same work as a real attempt
      return { code: "REGISTRATION_FAILED", email };
    }
    const r = await signUpUser({ email: address, password, source: "email" });
    if (!r.ok) return { code: "REGISTRATION_FAILED", email };
    await createSession(BigInt(r.userId), meta);
  } catch (e) {
    const errorId = randomUUID();
    console.error(`[register] unexpected error ${errorId}`, e);
    return { code: "INTERNAL_ERROR", errorId, email };
  }
  redirect(`/${locale}/dashboard`);
}
