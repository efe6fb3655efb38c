// Minimal reproduction of the chaos suite's "malformed · flusher" finding, one garbled field at a time:
//   npx tsx scripts/lib/chaos/repro-malformed-flusher.ts
// Flusher mode, one key: 1.00 recorded and flushed, 0.50 recorded (not flushed yet), one field of the
// hash garbled, 0.25 recorded, then the repairer and the flusher run until quiet. PostgreSQL's monthly
// usage must end at exactly 1.75.
//
// Before the fix (lib/billing/ledger.ts, repairer.ts) weekly_usage "" and version "1e3" ended at 1.50:
// the increment refused the garbled hash, the 0.25 was written to PostgreSQL, the hash was repaired in
// place and its next absolute snapshot — which lacks the 0.25 — overwrote it. Now the 0.25 is replayed
// into the repaired hash. monthly_usage "x" ends at 1.25 by design: the garbage replaced the only copy
// of that window's unflushed 0.50 (a partial raw DEL; flusher mode requires an intact Redis).
import { billingKeys } from "@/lib/billing/keys";
import { createBillingRuntime } from "@/lib/billing/runtime";

import { quiesce } from "../traffic";
import { ChaosServices } from "./services";

const services = await ChaosServices.start(["postgres"], () => {});
const db = services.dbs.get("postgres")!;
let failed = 0;
try {
  for (const [field, value, expected] of [
    ["weekly_usage", "", "1.7500000000"],
    ["monthly_usage", "x", "1.2500000000"], // by design: the unflushed 0.50 of the monthly window was in those bytes
    ["version", "1e3", "1.7500000000"],
    ["daily_limit", "1,0", "1.7500000000"],
    ["schema_version", "1.0", "1.7500000000"],
  ] as const) {
    const rt = createBillingRuntime({
      databaseUrl: db.url,
      redisUrl: services.redis.url(),
      config: { flusherEnabled: true },
      repair: false,
      logger: { warn() {}, error() {} },
    });
    const { rows } = await rt.pool.query<{ id: string }>(
      `INSERT INTO users (email, password_hash) VALUES ('repro-' || gen_random_uuid() || '@chaos.invalid', '!') RETURNING id`,
    );
    const u = Number(rows[0].id);
    await rt.repo.upsertForUser(u, [{ platform: "anthropic", limits: { daily: 1000, weekly: 1000, monthly: 1000 } }]);
    const flusher = rt.flusher();
    await rt.service.checkUserPlatformQuotaEligibility(u, "anthropic"); // hash built from the row
    await rt.service.recordUsage({ userId: u, platform: "anthropic", cost: 1 });
    await flusher.flush();
    await rt.service.recordUsage({ userId: u, platform: "anthropic", cost: 0.5 });
    await rt.redis!.hset(billingKeys.userPlatformQuota(u, "anthropic"), field, value);
    const r = await rt.service.recordUsage({ userId: u, platform: "anthropic", cost: 0.25 });
    await rt.service.checkUserPlatformQuotaEligibility(u, "anthropic"); // a check sees the garbled hash too
    const q = await quiesce(rt, flusher, 20_000);
    const { rows: pgRows } = await rt.pool.query<{ mu: string }>(
      "SELECT monthly_usage_usd::text AS mu FROM user_platform_quotas WHERE user_id = $1 AND deleted_at IS NULL",
      [u],
    );
    const ok = pgRows[0].mu === expected;
    if (!ok) failed++;
    console.log(
      `${ok ? "✓" : "✗"} ${field}=${JSON.stringify(value)}: 0.25 ${r.cacheApplied ? "applied to Redis" : r.dbWritten ? "written to PostgreSQL (no-op in Redis)" : "parked"}; ` +
        `PostgreSQL monthly ${pgRows[0].mu} (expected ${expected}); quiesced ${q.ok}`,
    );
    await flusher.stop();
    await rt.close();
  }
} finally {
  await services.stop();
}
process.exit(failed ? 1 : 0);
