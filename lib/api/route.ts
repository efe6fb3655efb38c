import "server-only";
import { randomUUID } from "node:crypto";
import { unstable_rethrow } from "next/navigation";
import { NextResponse } from "next/server";
import { isBackendUnavailable } from "./errors";

/** Seconds a client should wait before retrying after a 503 (the pools' reconnect horizon). */
export const RETRY_AFTER_SECONDS = 5;

/**
 * Every route handler under app/api is wrapped in this, so a thrown error never becomes Next's
 * empty 500: PostgreSQL or Redis down / hung / timing out (lib/api/errors.ts) answers
 *   503 {"code":503,"message":"SERVICE_UNAVAILABLE","reason":"BACKEND_UNAVAILABLE"}  Retry-After: 5
 * and anything else
 *   500 {"code":500,"message":"INTERNAL_ERROR","error_id":"…"}
 * with the stack logged server-side under that id (never sent). Next's control-flow throws
 * (notFound(), redirect(), dynamic-usage bailouts) pass through untouched. The handler keeps its
 * own order of work (authenticate → parse → authorize → domain); this only shapes failures.
 */
export function jsonRoute<A extends unknown[]>(handler: (...args: A) => Response | Promise<Response>): (...args: A) => Promise<Response> {
  return async (...args: A) => {
    try {
      return await handler(...args);
    } catch (e) {
      unstable_rethrow(e);
      return routeErrorResponse(e, (args as unknown[])[0]); // Next passes the request even to a handler that declares none
    }
  };
}

/** The JSON envelope for an error a handler threw (exported for handlers that catch themselves). */
export function routeErrorResponse(e: unknown, req?: unknown): NextResponse {
  const where = describeRequest(req);
  if (isBackendUnavailable(e)) {
    // One line, no stack: during an outage every request lands here.
    console.warn(`[api] ${where}: backend unavailable (${shortReason(e)})`);
    return NextResponse.json(
      { code: 503, message: "SERVICE_UNAVAILABLE", reason: "BACKEND_UNAVAILABLE" },
      { status: 503, headers: { "Retry-After": String(RETRY_AFTER_SECONDS), "Cache-Control": "no-store" } },
    );
  }
  const errorId = randomUUID();
  console.error(`[api] ${where}: unexpected error ${errorId}`, e);
  return NextResponse.json(
    { code: 500, message: "INTERNAL_ERROR", error_id: errorId },
    { status: 500, headers: { "Cache-Control": "no-store" } },
  );
}

function describeRequest(req: unknown): string {
  if (!(req instanceof Request)) return "route";
  try {
    return `${req.method} ${new URL(req.url).pathname}`; // no query string: it may carry values we do not log
  } catch {
    return req.method;
  }
}

function shortReason(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.replace(/\s+/g, " ").trim().slice(-200);
}
