import { okEnvelope } from "@/lib/api/envelope";
import { MY_QUOTAS_ALLOW, MY_QUOTAS_CACHE_CONTROL } from "@/lib/api/fast-path";
import { envelopeResponse } from "@/lib/api/response";
import { guardedRoute, methodNotAllowed, withSecurityHeaders } from "@/lib/api/route";
import { getMyQuotas } from "@/lib/quota/user";

export const dynamic = "force-dynamic";

/**
 * GET /api/v1/user/platform-quotas — the gateway's user read (spec §7.2): the session user's own
 * quotas only; query parameters, headers and ids in the request are ignored.
 *
 * The dashboard polls this every 10 s per signed-in user. Under `npm start` (scripts/serve.mjs)
 * this path is answered outside Next by lib/api/fast-path.ts — the same checks and envelopes from
 * the same modules, compared with this route by tests/e2e/fast-path.test.ts; this route answers it
 * under `next dev` / `next start` and with QC_FAST_PATHS=off. proxy.ts's matcher skips this path,
 * so the handler sets the security headers itself (withSecurityHeaders, every method).
 */
export const GET = withSecurityHeaders(
  guardedRoute("user", async (_req, _ctx, user) =>
    envelopeResponse(okEnvelope(await getMyQuotas(user.id), MY_QUOTAS_CACHE_CONTROL)),
  ),
);

const notAllowed = methodNotAllowed(MY_QUOTAS_ALLOW);
export const POST = notAllowed;
export const PUT = notAllowed;
export const PATCH = notAllowed;
export const DELETE = notAllowed;
export const OPTIONS = notAllowed;
