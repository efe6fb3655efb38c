import "server-only";

import { randomUUID } from "node:crypto";

import { env } from "@/lib/config/env";
import { newNonce, securityHeaders } from "@/lib/security/headers";

import { isBackendUnavailable } from "./errors";

/**
 * The JSON envelopes of the API's answers as plain data (status, body, headers), with no framework
 * type: lib/api/route.ts turns them into Next responses, the quota read's fast path
 * (lib/api/fast-path.ts) writes them to node:http — one definition, so both answer the same bytes.
 */
export type Envelope = { status: number; body: Record<string, unknown>; headers: Record<string, string> };

/** Seconds a client should wait before retrying after a 503 (the pools' reconnect horizon). */
export const RETRY_AFTER_SECONDS = 5;

export const okEnvelope = (data: unknown, cacheControl = "no-store"): Envelope => ({
  status: 200,
  body: { code: 0, message: "success", data },
  headers: { "Cache-Control": cacheControl },
});

export const unauthenticatedEnvelope = (): Envelope => ({
  status: 401,
  body: { code: 401, message: "UNAUTHENTICATED" },
  headers: {},
});

export const forbiddenEnvelope = (): Envelope => ({
  status: 403,
  body: { code: 403, message: "FORBIDDEN" },
  headers: {},
});

export const methodNotAllowedEnvelope = (allow: string): Envelope => ({
  status: 405,
  body: { code: 405, message: "METHOD_NOT_ALLOWED" },
  headers: { Allow: allow, "Cache-Control": "no-store" },
});

/**
 * The envelope for an error a handler threw, logged server-side: PostgreSQL or Redis down / hung /
 * timing out (lib/api/errors.ts) answers
 *   503 {"code":503,"message":"SERVICE_UNAVAILABLE","reason":"BACKEND_UNAVAILABLE"}  Retry-After: 5
 * and anything else
 *   500 {"code":500,"message":"INTERNAL_ERROR","error_id":"…"}
 * with the stack logged under that id (never sent). `where`: "METHOD /path" (no query string: it
 * may carry values we do not log).
 */
export function failureEnvelope(e: unknown, where: string): Envelope {
  if (isBackendUnavailable(e)) {
    // One line, no stack: during an outage every request lands here.
    console.warn(`[api] ${where}: backend unavailable (${shortReason(e)})`);
    return {
      status: 503,
      body: { code: 503, message: "SERVICE_UNAVAILABLE", reason: "BACKEND_UNAVAILABLE" },
      headers: { "Retry-After": String(RETRY_AFTER_SECONDS), "Cache-Control": "no-store" },
    };
  }
  const errorId = randomUUID();
  console.error(`[api] ${where}: unexpected error ${errorId}`, e);
  return {
    status: 500,
    body: { code: 500, message: "INTERNAL_ERROR", error_id: errorId },
    headers: { "Cache-Control": "no-store" },
  };
}

function shortReason(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.replace(/\s+/g, " ").trim().slice(-200);
}

/** The security headers proxy.ts puts on every response (lib/security/headers.ts), with a fresh nonce. */
export function responseSecurityHeaders(): Record<string, string> {
  return securityHeaders({
    nonce: newNonce(),
    dev: process.env.NODE_ENV === "development",
    secure: env().cookieSecure,
  });
}
