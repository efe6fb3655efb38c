import { NextResponse } from "next/server";

import { guardedRoute, methodNotAllowed, withSecurityHeaders } from "@/lib/api/route";
import { getMyQuotas } from "@/lib/quota/user";

export const dynamic = "force-dynamic";

/**
 * GET /api/v1/user/platform-quotas — the gateway's user read (spec §7.2): the session user's own
 * quotas only; query parameters, headers and ids in the request are ignored.
 *
 * The dashboard polls this every 10 s per signed-in user, so it is kept lean: proxy.ts's matcher
 * skips this path and the handler sets the security headers itself (withSecurityHeaders, every
 * method), and `no-transform` keeps the ~2.6 kB body out of gzip (compressing it cost more CPU
 * than the read; a reverse proxy may still compress — no-transform asks it not to).
 */
export const GET = withSecurityHeaders(
  guardedRoute("user", async (_req, _ctx, user) => {
    const data = await getMyQuotas(user.id);
    return NextResponse.json(
      { code: 0, message: "success", data },
      { headers: { "Cache-Control": "no-store, no-transform" } },
    );
  }),
);

const notAllowed = methodNotAllowed("GET, HEAD");
export const POST = notAllowed;
export const PUT = notAllowed;
export const PATCH = notAllowed;
export const DELETE = notAllowed;
export const OPTIONS = notAllowed;
