import { NextResponse } from "next/server";

import { jsonRoute } from "@/lib/api/route";
import { env } from "@/lib/config/env";
import { appMetricsRegistry } from "@/lib/metrics/app-metrics";
import { checkBearer } from "@/lib/metrics/auth";

export const dynamic = "force-dynamic";

/**
 * GET /api/metrics — Prometheus text format for operators (lib/metrics/app-metrics.ts). Token-
 * protected, not session-protected: `Authorization: Bearer $METRICS_TOKEN`, checked before
 * anything else runs. Without METRICS_TOKEN the endpoint does not exist (404). The scrape holds
 * counters and backlog sizes only — no environment values, hosts, keys or user data.
 */
export const GET = jsonRoute(async (req: Request) => {
  const token = env().METRICS_TOKEN;
  if (!token)
    return NextResponse.json(
      { code: 404, message: "NOT_FOUND" },
      { status: 404, headers: { "Cache-Control": "no-store" } },
    );
  if (checkBearer(req.headers.get("authorization"), token) !== "ok") {
    return NextResponse.json(
      { code: 401, message: "UNAUTHENTICATED" },
      { status: 401, headers: { "WWW-Authenticate": "Bearer", "Cache-Control": "no-store" } },
    );
  }
  const registry = appMetricsRegistry();
  return new Response(await registry.metrics(), {
    headers: { "Content-Type": registry.contentType, "Cache-Control": "no-store" },
  });
});
