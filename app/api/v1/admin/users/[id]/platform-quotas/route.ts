import { NextResponse } from "next/server";

import { guardedRoute } from "@/lib/api/route";
import { getUserQuotasView } from "@/lib/quota/admin";

export const dynamic = "force-dynamic";

/**
 * GET /api/v1/admin/users/:id/platform-quotas — the gateway's admin read (spec §7.3), same envelope
 * and item shape (window starts included), plus `last_change`, `pending_invalidations` and the
 * `version` a save from this read must send (lib/quota/version.ts).
 */
export const GET = guardedRoute(
  "admin",
  async (_req: Request, ctx: RouteContext<"/api/v1/admin/users/[id]/platform-quotas">) => {
    const { id } = await ctx.params;
    if (!/^\d{1,15}$/.test(id) || Number(id) <= 0)
      return NextResponse.json({ code: 400, message: "invalid user id" }, { status: 400 });
    const view = await getUserQuotasView(Number(id));
    if (!view)
      return NextResponse.json({ code: 404, message: "user not found", reason: "USER_NOT_FOUND" }, { status: 404 });
    return NextResponse.json({ code: 0, message: "success", data: view }, { headers: { "Cache-Control": "no-store" } });
  },
);
