import createMiddleware from "next-intl/middleware";
import { NextResponse, type NextRequest } from "next/server";

import { routing } from "./i18n/routing";
import { env } from "./lib/config/env";
import { newNonce, securityHeaders } from "./lib/security/headers";

const handleI18nRouting = createMiddleware(routing);

/** Page paths get locale negotiation; route handlers, Next's assets and files do not. */
const isPagePath = (pathname: string) => !/^\/(api|_next|_vercel)(\/|$)/.test(pathname) && !/\.[^/]*$/.test(pathname);

/**
 * The route handlers under app/api (keep in step with it). They render no HTML, so nothing reads the
 * nonce: their requests go on untouched, which spares Next re-encoding every request header for
 * the render (x-middleware-request-*) on the polled JSON reads. Any other /api path (a 404 page)
 * still gets the nonce.
 */
const isRouteHandlerPath = (pathname: string) =>
  /^\/api\/(?:health|metrics|v1\/me|v1\/user\/platform-quotas|v1\/admin\/cache\/status|v1\/admin\/users\/[^/]+\/platform-quotas)$/.test(
    pathname,
  );

/**
 * Every path but the polled quota read, whose handler sets the same headers itself
 * (app/api/v1/user/platform-quotas/route.ts, lib/api/route.ts withSecurityHeaders).
 */
export const config = { matcher: ["/((?!api/v1/user/platform-quotas$).*)"] };

/**
 * Runs on every request but the one above: security headers with a fresh CSP nonce on every response —
 * pages, route handlers, server-action POSTs, static assets, 404s — and, on page paths, next-intl's
 * locale negotiation (prefix redirect, Accept-Language, NEXT_LOCALE cookie). The CSP also goes on
 * the *request*, where Next.js reads the nonce for its scripts; `x-nonce` carries it to the layout.
 * Authentication is not done here: every page, route handler and action checks the session itself.
 */
export default function proxy(request: NextRequest) {
  const nonce = newNonce();
  const headers = securityHeaders({ nonce, dev: process.env.NODE_ENV === "development", secure: env().cookieSecure });
  const { pathname } = request.nextUrl;
  if (isRouteHandlerPath(pathname)) {
    const response = NextResponse.next();
    for (const [name, value] of Object.entries(headers)) response.headers.set(name, value);
    return response;
  }
  request.headers.set("content-security-policy", headers["Content-Security-Policy"]);
  request.headers.set("x-nonce", nonce);
  // next-intl forwards a copy of request.headers to the render; elsewhere pass them on ourselves.
  const response = isPagePath(pathname)
    ? handleI18nRouting(request)
    : NextResponse.next({ request: { headers: request.headers } });
  for (const [name, value] of Object.entries(headers)) response.headers.set(name, value);
  return response;
}
