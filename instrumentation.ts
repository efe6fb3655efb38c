// Runs once when a server instance starts: starts the cache-invalidation outbox worker and creates
// the bootstrap admin from ADMIN_EMAIL / ADMIN_PASSWORD if that account does not exist yet.
export async function register() {
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  if (process.env.NEXT_PHASE !== "phase-production-build" && process.env.DATABASE_URL) {
    const [{ startOutboxWorker }, { pgPool }, { redis }] = await Promise.all([
      import("@/lib/quota/outbox"),
      import("@/lib/db/client"),
      import("@/lib/redis/client"),
    ]);
    startOutboxWorker({ redis: redis(), pool: pgPool() }, Number(process.env.CACHE_INVALIDATION_INTERVAL_MS ?? 2000));
  }
  if (!process.env.ADMIN_EMAIL || !process.env.ADMIN_PASSWORD) return;
  const { ensureBootstrapAdmin } = await import("@/lib/users/users");
  try {
    const r = await ensureBootstrapAdmin(process.env.ADMIN_EMAIL, process.env.ADMIN_PASSWORD);
    if (r?.created) console.log(`[bootstrap] created admin ${process.env.ADMIN_EMAIL}`);
  } catch (e) {
    console.error("[bootstrap] could not create the admin account", e);
  }
}
