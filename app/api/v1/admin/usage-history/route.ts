import { NextResponse } from "next/server";

import { guardedRoute } from "@/lib/api/route";
import { getUsageOverview, parseHistoryQuery } from "@/lib/quota/history";
import { badQuery } from "@/lib/quota/history-http";

export const dynamic = "force-dynamic";

/** GET /api/v1/admin/usage-history?days=&platform= — every user's spend per quota day × platform (admin overview). */
export const GET = guardedRoute("admin", async (req) => {
  const parsed = await parseHistoryQuery(new URL(req.url));
  if (!parsed.ok) return badQuery(parsed.reason);
  const data = await getUsageOverview(parsed.query);
  return NextResponse.json({ code: 0, message: "success", data }, { headers: { "Cache-Control": "no-store" } });
});
