import "server-only";

import type { IncomingMessage, ServerResponse } from "node:http";
import { parseCookie } from "next/dist/compiled/@edge-runtime/cookies";

import { sessionCookieName, userOfSessionCookie } from "@/lib/auth/session-cookie";
import { getMyQuotas } from "@/lib/quota/user";

import {
  failureEnvelope,
  methodNotAllowedEnvelope,
  okEnvelope,
  responseSecurityHeaders,
  unauthenticatedEnvelope,
  type Envelope,
} from "./envelope";

/**
 * The polled quota read outside Next's request handler. Every signed-in dashboard calls
 * GET /api/v1/user/platform-quotas every 10 s; through Next the router, the route module and its
 * web-stream piping cost ~3× the read itself (issue 14's profile). The production server
 * (scripts/serve.mjs) answers exactly this path — its pathname, any query string — with the
 * handler below; everything else, and `next dev` / `next start`, go to Next, whose route
 * (app/api/v1/user/platform-quotas/route.ts) stays the same read and the fallback.
 *
 * Same answer, same code: the handler is compiled by `next build` (it is imported by
 * instrumentation.ts, which registers it) from the modules the route uses — the cookie parser
 * Next's cookies() uses, the session check (lib/auth/session-cookie.ts → the same ≤ 2 s cache,
 * shared through globalThis, so a sign-out or an admin's change in this process applies here at
 * once), getMyQuotas on the app's billing runtime, the envelopes and security headers of
 * lib/api/envelope.ts. tests/e2e/fast-path.test.ts compares both paths case by case.
 */
export const MY_QUOTAS_PATH = "/api/v1/user/platform-quotas";
/** The methods the quota read serves; any other answers 405 with this as Allow. */
export const MY_QUOTAS_ALLOW = "GET, HEAD";
/** `no-transform`: the ~2.6 kB body stays out of gzip (compressing cost more CPU than the read). */
export const MY_QUOTAS_CACHE_CONTROL = "no-store, no-transform";

/** What the route answers for a method and a Cookie header (authentication before anything else is read). */
export async function myQuotasEnvelope(method: string, cookieHeader: string | undefined): Promise<Envelope> {
  if (method !== "GET" && method !== "HEAD") return methodNotAllowedEnvelope(MY_QUOTAS_ALLOW);
  const raw = cookieHeader ? parseCookie(cookieHeader).get(sessionCookieName()) : undefined;
  const user = await userOfSessionCookie(raw);
  if (!user) return unauthenticatedEnvelope();
  return okEnvelope(await getMyQuotas(user.id), MY_QUOTAS_CACHE_CONTROL);
}

/**
 * The Vary Next's app router puts on a route handler's response (its RSC request headers), plus
 * Accept-Encoding where its compression may apply (not under no-transform): repeated here so a
 * cache in front sees one response whichever path answered.
 */
const NEXT_VARY = "rsc, next-router-state-tree, next-router-prefetch, next-router-segment-prefetch";

/** node:http handler of MY_QUOTAS_PATH (the caller matched the path). Never rejects. */
export async function serveMyQuotas(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const method = req.method ?? "GET";
  let e: Envelope;
  try {
    e = await myQuotasEnvelope(method, req.headers.cookie);
  } catch (err) {
    e = failureEnvelope(err, `${method} ${MY_QUOTAS_PATH}`);
  }
  try {
    const json = JSON.stringify(e.body);
    const noTransform = /\bno-transform\b/.test(e.headers["Cache-Control"] ?? "");
    res.writeHead(e.status, {
      Vary: noTransform ? NEXT_VARY : `${NEXT_VARY}, Accept-Encoding`,
      ...e.headers,
      "Content-Type": "application/json",
      "Content-Length": Buffer.byteLength(json),
      ...responseSecurityHeaders(),
    });
    res.end(method === "HEAD" ? undefined : json);
  } catch (err) {
    // Next's own answer when a handler itself throws.
    console.error(`[api] ${method} ${MY_QUOTAS_PATH}: could not send the response`, err);
    if (!res.headersSent) res.writeHead(500, { "Content-Type": "text/plain" });
    res.end(method === "HEAD" ? undefined : "Internal Server Error");
  }
}

/** Where scripts/serve.mjs finds the fast paths: pathname → node:http handler. */
export const FAST_PATHS_KEY = Symbol.for("quota-console.fast-paths");

type FastPaths = Map<string, (req: IncomingMessage, res: ServerResponse) => Promise<void>>;

/** Called once by instrumentation.ts (server start, Node runtime). */
export function registerFastPaths(): void {
  (globalThis as unknown as Record<symbol, FastPaths>)[FAST_PATHS_KEY] = new Map([[MY_QUOTAS_PATH, serveMyQuotas]]);
}
