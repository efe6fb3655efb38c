import { z } from "zod";
import { MAX_PASSWORD_BYTES } from "./password";

/** Sign-in form input, shared by the form and the action. Messages are error codes. */
export const SignInSchema = z.object({
  email: z.string().trim().min(1, "REQUIRED").max(255, "TOO_LONG").email("INVALID_EMAIL"),
  password: z
    .string()
    .min(1, "REQUIRED")
    .refine((p) => Buffer.byteLength(p, "utf8") <= MAX_PASSWORD_BYTES, "TOO_LONG"),
  locale: z.enum(["en", "zh"]).catch("en"),
  next: z.string().max(512).optional(),
});

export type SignInInput = z.infer<typeof SignInSchema>;

/** A post-sign-in destination inside this site only (no `//host` or scheme). */
export function safeNextPath(next: string | undefined, locale: string): string {
  if (next && /^\/(en|zh)(\/[\w\-/]*)?$/.test(next)) return next;
  return `/${locale}/dashboard`;
}

/** Registration form input (public page, source "email"). */
export const RegisterSchema = z.object({
  email: z.string().trim().min(1, "REQUIRED").max(255, "TOO_LONG").email("INVALID_EMAIL"),
  password: z
    .string()
    .min(1, "REQUIRED")
    .min(8, "PASSWORD_TOO_SHORT")
    .refine((p) => Buffer.byteLength(p, "utf8") <= MAX_PASSWORD_BYTES, "TOO_LONG"),
  locale: z.enum(["en", "zh"]).catch("en"),
});
