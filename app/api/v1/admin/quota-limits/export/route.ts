import { NextResponse } from "next/server";

import { guardedRoute } from "@/lib/api/route";
import { exportRows, toCsv, toJson } from "@/lib/bulk/transfer";
import { appBilling } from "@/lib/quota/runtime";
import { UserListParamsSchema } from "@/lib/users/list";

export const dynamic = "force-dynamic";

/**
 * GET /api/v1/admin/quota-limits/export?format=csv|json[&q=&role=&status=&source=&limit=1&over80=1]
 * — the current limits of every user the users list's filters select (all users without any), as a
 * file (lib/bulk/transfer.ts). Admin only (role checked before the query is read).
 */
export const GET = guardedRoute("admin", async (req) => {
  const url = new URL(req.url);
  const format = url.searchParams.get("format") ?? "csv";
  if (format !== "csv" && format !== "json")
    return NextResponse.json(
      { code: 400, message: "format must be csv or json", reason: "INVALID_FORMAT" },
      { status: 400 },
    );
  const f = UserListParamsSchema.parse(Object.fromEntries(url.searchParams));
  const filtered = Boolean(f.q || f.role || f.status || f.source || f.limit || f.over80);
  const billing = appBilling();
  const rows = await exportRows(billing.pool, billing.clock, filtered ? f : null);
  const body = format === "csv" ? toCsv(rows) : toJson(rows);
  const day = new Date().toISOString().slice(0, 10);
  return new NextResponse(body, {
    headers: {
      "Content-Type": format === "csv" ? "text/csv; charset=utf-8" : "application/json; charset=utf-8",
      "Content-Disposition": `attachment; filename="quota-limits-${day}.${format}"`,
      "Cache-Control": "no-store",
    },
  });
});
