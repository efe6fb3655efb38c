import { z } from "zod";

import { MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARS } from "./password";

/**
 * Sign-in and registration form input, shared by the forms and the actions. Every message is an
 * error code translated under `Errors.<code>` — including the type errors (a field that is
 * missing or not text), whose default zod message would otherwise reach the form as raw English.
 * tests/unit/auth-schemas.test.ts keeps every code these schemas can produce in messages/*.json.
 */
const emailField = z
  .string({ error: "REQUIRED" })
  .trim()
  .min(1, "REQUIRED")
  .max(255, "TOO_LONG")
  .email("INVALID_EMAIL");
const withinBcrypt = (p: string) => Buffer.byteLength(p, "utf8") <= MAX_PASSWORD_BYTES;

/** Sign-in form input. */
export const SignInSchema = z.object(
  {
    email: emailField,
    password: z.string({ error: "REQUIRED" }).min(1, "REQUIRED").refine(withinBcrypt, "TOO_LONG"),
    locale: z.enum(["en", "zh"]).catch("en"),
    // A destination that is not a short string is ignored (safeNextPath falls back), never an error
    // the form could not show.
    next: z.string().max(512).optional().catch(undefined),
  },
  { error: "INVALID_INPUT" },
);

export type SignInInput = z.infer<typeof SignInSchema>;

/** A post-sign-in destination inside this site only (no `//host` or scheme). */
export function safeNextPath(next: string | undefined, locale: string): string {
  if (next && /^\/(en|zh)(\/[\w\-/]*)?$/.test(next)) return next;
  return `/${locale}/dashboard`;
}

/**
 * Registration form input (public page, source "email"). Only the cheap checks: the strength
 * policy (lib/auth/password-policy.ts) runs in the action, on the server only.
 */
export const RegisterSchema = z.object(
  {
    email: emailField,
    password: z
      .string({ error: "REQUIRED" })
      .min(1, "REQUIRED")
      .refine((p) => [...p].length >= MIN_PASSWORD_CHARS, "PASSWORD_TOO_SHORT")
      .refine(withinBcrypt, "TOO_LONG"),
    locale: z.enum(["en", "zh"]).catch("en"),
  },
  { error: "INVALID_INPUT" },
);
