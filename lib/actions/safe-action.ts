import "server-only";

import { randomUUID } from "node:crypto";
import { unstable_rethrow } from "next/navigation";
import { z } from "zod";

import { getSessionUser, type Role, type SessionUser } from "@/lib/auth/session";

/**
 * The guarded action factory. Every server action is built with it, so every action
 * authenticates → authorizes the role → parses its input with zod → runs the domain function,
 * in that order, and returns a typed result instead of throwing.
 *
 * Expected failures are results with a stable `code` (translated on the client under
 * `Errors.<code>`); unexpected errors are logged with an id and reach the browser only as
 * INTERNAL_ERROR plus that id — never as a raw message.
 */
export type ActionErrorCode =
  "UNAUTHENTICATED" | "FORBIDDEN" | "INVALID_INPUT" | "NOT_FOUND" | "CONFLICT" | "INTERNAL_ERROR";

export type ActionFailure = {
  ok: false;
  code: ActionErrorCode | (string & {});
  /** Field path (dot-joined) → error codes, for mapping back onto the exact input. */
  fieldErrors?: Record<string, string[]>;
  errorId?: string;
};

export type ActionResult<T> = { ok: true; data: T } | ActionFailure;

export function fail(code: ActionFailure["code"], fieldErrors?: Record<string, string[]>): ActionFailure {
  return fieldErrors ? { ok: false, code, fieldErrors } : { ok: false, code };
}

/** zod issues → { "a.b": ["code"] }, using the issue message as the code (schemas set codes). */
export function toFieldErrors(error: z.ZodError): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const issue of error.issues) {
    const path = issue.path.map(String).join(".") || "_form";
    (out[path] ??= []).push(issue.message);
  }
  return out;
}

type Handler<I, T> = (input: I, ctx: { user: SessionUser }) => Promise<ActionResult<T>>;

export function guardedAction<S extends z.ZodType, T>(opts: {
  role: Role;
  /**
   * The input schema, or a function that builds it at call time — for rules known only at runtime,
   * e.g. the platform registry of the attached gateway (lib/db/platforms.ts). Built after the
   * role check, like the parse.
   */
  schema: S | (() => S | Promise<S>);
  handler: Handler<z.infer<S>, T>;
}): (input: unknown) => Promise<ActionResult<T>> {
  return async (input: unknown) => {
    try {
      const user = await getSessionUser();
      if (!user) return fail("UNAUTHENTICATED");
      // Role before parsing: a non-admin learns nothing about an admin action's input rules.
      if (opts.role === "admin" && user.role !== "admin") return fail("FORBIDDEN");
      const schema = typeof opts.schema === "function" ? await opts.schema() : opts.schema;
      const parsed = schema.safeParse(input);
      if (!parsed.success) return fail("INVALID_INPUT", toFieldErrors(parsed.error));
      return await opts.handler(parsed.data, { user });
    } catch (e) {
      unstable_rethrow(e); // redirect() / notFound() are control flow, not failures
      const errorId = randomUUID();
      console.error(`[action] unexpected error ${errorId}`, e);
      return { ok: false, code: "INTERNAL_ERROR", errorId };
    }
  };
}
