import { NextResponse } from "next/server";

import { guardedRoute } from "@/lib/api/route";
import { getUserUsageHistory, parseHistoryQuery } from "@/lib/quota/history";
import { badQuery } from "@/lib/quota/history-http";

export const dynamic = "force-dynamic";

/** GET /api/v1/admin/users/:id/usage-history?days=&platform= — any user's history (admin; role checked first). */
export const GET = guardedRoute(
  "admin",
  async (req: Request, ctx: RouteContext<"/api/v1/admin/users/[id]/usage-history">) => {
    const { id } = await ctx.params;
    if (!/^\d{1,15}$/.test(id) || Number(id) <= 0)
      return NextResponse.json({ code: 400, message: "invalid user id", reason: "INVALID_INPUT" }, { status: 400 });
    const parsed = await parseHistoryQuery(new URL(req.url));
    if (!parsed.ok) return badQuery(parsed.reason);
    const data = await getUserUsageHistory(Number(id), parsed.query);
    return NextResponse.json({ code: 0, message: "success", data }, { headers: { "Cache-Control": "no-store" } });
  },
);
