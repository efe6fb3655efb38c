import "server-only";

import { DEFAULT_PLATFORMS, platformRegistry } from "@/lib/billing/platforms";
import { env } from "@/lib/config/env";

import { gatewaySchemaReport } from "./gateway-mode";

/**
 * The app's platform registry (lib/billing/platforms.ts). Standalone: the console's own list (its
 * migrations' CHECK lists exactly it). Attached: the live `user_platform_quotas_platform_check`'s
 * list, in its order, from the start-up compatibility check (one read of the catalog per process,
 * cached with the report; instrumentation.ts runs it before the first request). Server code resolves
 * it here and passes it on; client components receive it as data (a view's or the defaults'
 * `platforms`). Never a silent fallback: an attached database without a readable CHECK fails the
 * start-up check, and this throws rather than guess.
 */
export async function appPlatforms(): Promise<readonly string[]> {
  if (env().GATEWAY_DATABASE !== "attached") return DEFAULT_PLATFORMS;
  const report = await gatewaySchemaReport();
  if (!report.livePlatforms) {
    throw new Error("platform registry: the gateway's user_platform_quotas_platform_check could not be read");
  }
  return platformRegistry(report.livePlatforms);
}
