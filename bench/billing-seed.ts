// The billing benchmark's seed (bench/billing.ts): users with one daily limit each, their cache entries built.
import type { BillingRuntime } from "@/lib/billing/runtime";

import { progress, runOps } from "./lib/run";

/** `users` users with a `platform` daily limit, each cache entry built by a check; returns their ids. */
export async function seed(
  rt: Pick<BillingRuntime, "pool" | "repo" | "service">,
  o: { users: number; platform: string; dailyLimit: number },
): Promise<number[]> {
  const { rows } = await rt.pool.query<{ id: string }>(
    `INSERT INTO users (email, password_hash) SELECT 'bench-' || g || '@bench.invalid', 'x' FROM generate_series(1, $1::int) g RETURNING id`,
    [o.users],
  );
  const userIds = rows.map((r) => Number(r.id));
  const limits = { daily: o.dailyLimit, weekly: null, monthly: null };
  await runOps(userIds.length, 16, (i) => rt.repo.upsertForUser(userIds[i], [{ platform: o.platform, limits }]), {
    name: "seed",
    record: false,
  });
  // Planner statistics, as a live database has them (autovacuum would take its time): without them the
  // planner takes the fresh table for a few rows and scans it for every keyed write.
  await rt.pool.query("ANALYZE users; ANALYZE user_platform_quotas");
  for (const id of userIds) await rt.service.checkUserPlatformQuotaEligibility(id, o.platform);
  let hits = 0;
  for (const id of userIds) {
    const d = await rt.service.checkUserPlatformQuotaEligibility(id, o.platform);
    if (d.allowed && d.source === "cache") hits++;
  }
  if (hits !== userIds.length) throw new Error(`cache not built: ${hits}/${userIds.length} checks hit the cache`);
  progress(`${userIds.length} users with a ${o.platform} daily limit, cache built`);
  return userIds;
}
