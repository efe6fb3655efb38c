import { NextResponse } from "next/server";

import { guardedRoute } from "@/lib/api/route";
import { getCacheStatus } from "@/lib/quota/cache-health";

export const dynamic = "force-dynamic";

/**
 * GET /api/v1/admin/cache/status — the Cache health panel's live reading (polled every 10 s): mode,
 * database / Redis reachability and the ledger's backlog (lib/billing/ledger-status.ts). Admins only.
 */
export const GET = guardedRoute("admin", async () => {
  const data = await getCacheStatus();
  return NextResponse.json({ code: 0, message: "success", data }, { headers: { "Cache-Control": "no-store" } });
});
