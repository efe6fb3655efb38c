import { NextResponse } from "next/server";

import { guardedRoute } from "@/lib/api/route";
import { QUOTA_CELLS_MAX_USERS, readQuotaCells } from "@/lib/users/list";

export const dynamic = "force-dynamic";

/**
 * GET /api/v1/admin/users/quota-cells?ids=1,2,3 — the users list's quota column, polled by the page
 * (lib/users/quota-cells.ts: `[used, limit]` per window of each limited platform, freshest usage).
 * Admin only, checked before the query is read; at most QUOTA_CELLS_MAX_USERS ids.
 */
export const GET = guardedRoute("admin", async (req: Request) => {
  const raw = new URL(req.url).searchParams.get("ids") ?? "";
  const parts = raw === "" ? [] : raw.split(",");
  if (parts.length > QUOTA_CELLS_MAX_USERS || parts.some((p) => !/^[1-9]\d{0,14}$/.test(p)))
    return NextResponse.json({ code: 400, message: "invalid ids" }, { status: 400 });
  const data = await readQuotaCells([...new Set(parts.map(Number))]);
  return NextResponse.json({ code: 0, message: "success", data }, { headers: { "Cache-Control": "no-store" } });
});
