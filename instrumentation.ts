// Runs once when a server instance starts: starts the billing repairer and creates
// the bootstrap admin from ADMIN_EMAIL / ADMIN_PASSWORD if that account does not exist yet.
export async function register() {
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  if (process.env.NEXT_PHASE !== "phase-production-build" && process.env.DATABASE_URL) {
    // Attached to the gateway's database: its tables are checked first; a mismatch ends the
    // process before anything is written (lib/db/compat.ts).
    const { verifyGatewayAtStartup } = await import("@/lib/db/gateway-mode");
    await verifyGatewayAtStartup();
    // The billing runtime starts its repairer: it carries admin changes into Redis (the outbox) and
    // finishes usage ops that gateways parked (docs/consistency.md).
    const { appBilling } = await import("@/lib/quota/runtime");
    appBilling();
    // Usage history (issue 15): attached, the usage_logs reader; both modes, the hourly downsampler.
    const { startUsageHistory } = await import("@/lib/quota/history-runtime");
    startUsageHistory();
    // The polled quota read served outside Next's handler by scripts/serve.mjs (lib/api/fast-path.ts).
    const { registerFastPaths } = await import("@/lib/api/fast-path");
    registerFastPaths();
    // Bulk operations (issue 16): this instance's worker takes started jobs and ones whose instance died.
    const { startBulkWorker } = await import("@/lib/bulk/runtime");
    startBulkWorker();
    // The users list at scale (docs/users-list-scale.md §3): its totals, recounted every 30 s.
    const { startUserListCounter } = await import("@/lib/users/list");
    startUserListCounter();
    // The users list's quota keys (issue 14): backfill on first start, then usage, rollovers, a sweep.
    const { startQuotaKeys } = await import("@/lib/users/quota-keys-runtime");
    startQuotaKeys();
  }
  if (!process.env.ADMIN_EMAIL || !process.env.ADMIN_PASSWORD) return;
  const { ensureBootstrapAdmin } = await import("@/lib/users/users");
  try {
    // Logs what happened: created, exists as admin, or exists as a non-admin (not promoted).
    await ensureBootstrapAdmin(process.env.ADMIN_EMAIL, process.env.ADMIN_PASSWORD);
  } catch (e) {
    console.error("[bootstrap] could not create the admin account", e);
  }
}
