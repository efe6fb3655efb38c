import { randomUUID } from "node:crypto";
import { NextResponse } from "next/server";

import { getHealth } from "@/lib/health";

export const dynamic = "force-dynamic";

/**
 * Liveness/readiness for load balancers: public on purpose (probes carry no session), and it
 * reveals only up/down/latency — no hosts, versions or data. 503 when the database is down, and
 * 503 too if the probe itself fails (e.g. an invalid environment): a probe never gets Next's empty
 * 500, and the reason stays in the server log under the error id.
 */
export async function GET() {
  try {
    const health = await getHealth();
    return NextResponse.json(health, {
      status: health.status === "down" ? 503 : 200,
      headers: { "Cache-Control": "no-store" },
    });
  } catch (e) {
    const errorId = randomUUID();
    console.error(`[api] GET /api/health: probe failed ${errorId}`, e);
    return NextResponse.json(
      { status: "down", error_id: errorId, time: new Date().toISOString() },
      { status: 503, headers: { "Cache-Control": "no-store", "Retry-After": "5" } },
    );
  }
}
