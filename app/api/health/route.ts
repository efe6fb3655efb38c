import { NextResponse } from "next/server";
import { getHealth } from "@/lib/health";

export const dynamic = "force-dynamic";

/**
 * Liveness/readiness for load balancers: public on purpose (probes carry no session), and it
 * reveals only up/down/latency — no hosts, versions or data. 503 when the database is down.
 */
export async function GET() {
  const health = await getHealth();
  return NextResponse.json(health, {
    status: health.status === "down" ? 503 : 200,
    headers: { "Cache-Control": "no-store" },
  });
}
