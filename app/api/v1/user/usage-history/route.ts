import { NextResponse } from "next/server";

import { guardedRoute } from "@/lib/api/route";
import { getUserUsageHistory, parseHistoryQuery } from "@/lib/quota/history";
import { badQuery } from "@/lib/quota/history-http";

export const dynamic = "force-dynamic";

/**
 * GET /api/v1/user/usage-history?days=30&platform=… — the session user's own spend per quota day ×
 * platform (issue 15), with the current limits; ids in the request are ignored (own data only).
 * Bad input: 400 with `reason` INVALID_DAYS / INVALID_PLATFORM (messages "Errors.*").
 */
export const GET = guardedRoute("user", async (req, _ctx, user) => {
  const parsed = await parseHistoryQuery(new URL(req.url));
  if (!parsed.ok) return badQuery(parsed.reason);
  const data = await getUserUsageHistory(user.id, parsed.query);
  return NextResponse.json({ code: 0, message: "success", data }, { headers: { "Cache-Control": "no-store" } });
});
