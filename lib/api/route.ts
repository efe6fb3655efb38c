import "server-only";

import { unstable_rethrow } from "next/navigation";
import type { NextResponse } from "next/server";

import { requireApiUser } from "@/lib/auth/guards";
import type { Role, SessionUser } from "@/lib/auth/session";

import { failureEnvelope, methodNotAllowedEnvelope, responseSecurityHeaders } from "./envelope";
import { envelopeResponse } from "./response";

export { RETRY_AFTER_SECONDS } from "./envelope";

/**
 * Every route handler under app/api is wrapped in this, so a thrown error never becomes Next's
 * empty 500: PostgreSQL or Redis down / hung / timing out (lib/api/errors.ts) answers
 *   503 {"code":503,"message":"SERVICE_UNAVAILABLE","reason":"BACKEND_UNAVAILABLE"}  Retry-After: 5
 * and anything else
 *   500 {"code":500,"message":"INTERNAL_ERROR","error_id":"…"}
 * with the stack logged server-side under that id (never sent). Next's control-flow throws
 * (notFound(), redirect(), dynamic-usage bailouts) pass through untouched. This only shapes
 * failures; session routes use `guardedRoute`, which also authenticates and authorizes first.
 */
export function jsonRoute<A extends unknown[]>(
  handler: (...args: A) => Response | Promise<Response>,
): (...args: A) => Promise<Response> {
  return async (...args: A) => {
    try {
      return await handler(...args);
    } catch (e) {
      unstable_rethrow(e);
      return routeErrorResponse(e, (args as unknown[])[0]); // Next passes the request even to a handler that declares none
    }
  };
}

/**
 * A session route: authenticate → authorize the role → only then the handler (which parses its
 * params and query), like guardedAction for server actions. A non-admin calling an admin route gets
 * 403 whatever it sends, an anonymous caller 401 — never a 400 about its input. Failures as jsonRoute.
 */
export function guardedRoute<C>(
  role: Role,
  handler: (req: Request, ctx: C, user: SessionUser) => Response | Promise<Response>,
): (req: Request, ctx: C) => Promise<Response> {
  return jsonRoute(async (req: Request, ctx: C) => {
    const { user, denied } = await requireApiUser(role);
    if (denied) return denied;
    return handler(req, ctx, user);
  });
}

/** The JSON envelope for an error a handler threw (exported for handlers that catch themselves). */
export function routeErrorResponse(e: unknown, req?: unknown): NextResponse {
  return envelopeResponse(failureEnvelope(e, describeRequest(req)));
}

function describeRequest(req: unknown): string {
  if (!(req instanceof Request)) return "route";
  try {
    return `${req.method} ${new URL(req.url).pathname}`; // no query string: it may carry values we do not log
  } catch {
    return req.method;
  }
}

/**
 * The security headers proxy.ts puts on every response (a fresh nonce each time), set by the
 * handler itself: for the route handlers proxy.ts's matcher leaves out (the polled quota read),
 * where running the proxy — a NextRequest and a middleware round through Next per request — costs
 * more than the read. Such a route exports every method through this (methodNotAllowed for the
 * ones it does not serve) so that no response of its path goes out without them.
 */
export function withSecurityHeaders<A extends unknown[]>(
  handler: (...args: A) => Response | Promise<Response>,
): (...args: A) => Promise<Response> {
  return async (...args: A) => {
    const res = await handler(...args);
    const headers = responseSecurityHeaders();
    for (const name in headers) res.headers.set(name, headers[name]);
    return res;
  };
}

/** 405 for a method the route does not serve (Next's own 405 / OPTIONS answers would bypass withSecurityHeaders). */
export const methodNotAllowed = (allow: string) =>
  withSecurityHeaders(() => envelopeResponse(methodNotAllowedEnvelope(allow)));
