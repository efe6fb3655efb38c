import { NextResponse } from "next/server";

import { guardedRoute } from "@/lib/api/route";
import { getMyQuotas } from "@/lib/quota/user";

export const dynamic = "force-dynamic";

/**
 * GET /api/v1/user/platform-quotas — the gateway's user read (spec §7.2): the session user's own
 * quotas only; query parameters, headers and ids in the request are ignored.
 */
export const GET = guardedRoute("user", async (_req, _ctx, user) => {
  const data = await getMyQuotas(user.id);
  return NextResponse.json({ code: 0, message: "success", data }, { headers: { "Cache-Control": "no-store" } });
});
