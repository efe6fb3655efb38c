import { NextResponse } from "next/server";
import { jsonRoute } from "@/lib/api/route";
import { requireApiUser } from "@/lib/auth/guards";
import { getCacheStatus } from "@/lib/quota/cache-health";

export const dynamic = "force-dynamic";

/**
 * GET /api/v1/admin/cache/status — the Cache health panel's live reading (polled every 10 s): mode,
 * database / Redis reachability and the ledger's backlog (lib/billing/ledger-status.ts). Admins only.
 */
export const GET = jsonRoute(async () => {
  const { denied } = await requireApiUser("admin");
  if (denied) return denied;
  const data = await getCacheStatus();
  return NextResponse.json({ code: 0, message: "success", data }, { headers: { "Cache-Control": "no-store" } });
});
