import "server-only";

import { env } from "@/lib/config/env";

import { pgPool } from "./client";
import { checkGatewaySchema, formatCompatReport, type CompatReport } from "./compat";

/** What /api/health reports about the database layout (README "Attach to your sub2api"). */
export type GatewayStatus = {
  mode: "standalone" | "attached";
  /** attached: the start-up compatibility check; standalone: "skipped" (the console built the tables). */
  schemaCheck: "ok" | "failed" | "skipped";
  checked?: number;
  problems?: { object: string; problem: string }[];
  /** attached: the platform registry read from the live CHECK (lib/db/platforms.ts), in its order */
  platforms?: string[] | null;
};

const state = globalThis as unknown as { qcGatewayCheck?: Promise<CompatReport> };

/** The attached-mode check, run once per process (read-only catalog queries). */
export function gatewaySchemaReport(): Promise<CompatReport> {
  state.qcGatewayCheck ??= checkGatewaySchema((text, params) => pgPool().query(text, params));
  state.qcGatewayCheck.catch(() => (state.qcGatewayCheck = undefined)); // a failed probe is retried
  return state.qcGatewayCheck;
}

/**
 * Start-up (instrumentation.ts): in attached mode the gateway's tables are checked before anything
 * else runs; a mismatch prints the report and ends the process with status 1, nothing written.
 */
export async function verifyGatewayAtStartup(): Promise<void> {
  if (env().GATEWAY_DATABASE !== "attached") return;
  const report = await gatewaySchemaReport();
  if (report.ok) {
    console.log(`[db] attached to the gateway's database: ${formatCompatReport(report)}`);
    console.log(`[db] platform registry (live CHECK): ${report.livePlatforms?.join(", ")}`);
    return;
  }
  console.error(`[db] ${formatCompatReport(report)}`);
  process.exit(1);
}

export async function gatewayStatus(): Promise<GatewayStatus> {
  const mode = env().GATEWAY_DATABASE;
  if (mode !== "attached") return { mode, schemaCheck: "skipped" };
  const r = await gatewaySchemaReport();
  return {
    mode,
    schemaCheck: r.ok ? "ok" : "failed",
    checked: r.checked,
    problems: r.problems.map(({ object, problem }) => ({ object, problem })),
    platforms: r.livePlatforms,
  };
}
