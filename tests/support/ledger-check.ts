import type Redis from "ioredis";
import type pg from "pg";

import { billingKeys } from "@/lib/billing/keys";
import { decodeQuotaEntry } from "@/lib/billing/quota-cache";

/**
 * The ledger's invariants, read straight from the stores (independent of the code under test):
 * PostgreSQL holds exactly the recorded sum per key, and every Redis hash equals PostgreSQL in each
 * window both agree on — or is absent.
 */
export type KeyCheck = {
  key: string;
  expected: string;
  postgres: string | null;
  redis: string | null;
  ok: boolean;
  why?: string;
};

/** Costs as exact decimal strings (numeric arithmetic in SQL, never float sums). */
export async function checkLedger(
  pool: Pick<pg.Pool, "query">,
  redis: Redis | null,
  expected: Map<string, number[]>,
): Promise<{ ok: boolean; keys: KeyCheck[] }> {
  const out: KeyCheck[] = [];
  for (const [key, costs] of expected) {
    const [user, platform] = key.split(":");
    const { rows } = await pool.query<{
      exp: string;
      mu: string | null;
      du: string | null;
      wu: string | null;
      ds: Date | null;
      ws: Date | null;
      ms: Date | null;
    }>(
      `SELECT (SELECT coalesce(sum(c), 0)::numeric(20,10)::text FROM unnest($3::numeric[]) c) AS exp,
              q.monthly_usage_usd::text AS mu, q.daily_usage_usd::text AS du, q.weekly_usage_usd::text AS wu,
              q.daily_window_start AS ds, q.weekly_window_start AS ws, q.monthly_window_start AS ms
       FROM (SELECT 1) one LEFT JOIN user_platform_quotas q ON q.user_id = $1 AND q.platform = $2 AND q.deleted_at IS NULL`,
      [Number(user), platform, costs.map((c) => c.toFixed(4))],
    );
    const r = rows[0];
    let ok = r.mu === r.exp;
    let why = ok ? undefined : `PostgreSQL monthly ${r.mu} ≠ recorded ${r.exp}`;
    let redisText: string | null = null;
    if (redis) {
      const e = decodeQuotaEntry(await redis.hgetall(billingKeys.userPlatformQuota(Number(user), platform)));
      if (e && e.schemaVersion === 1 && (e.dailyLimit !== null || e.weeklyLimit !== null || e.monthlyLimit !== null)) {
        redisText = `${e.dailyUsage}/${e.weeklyUsage}/${e.monthlyUsage}`;
        const same = (a: number, b: string | null, sa: number | null, sb: Date | null) =>
          sa === null || sb === null || sa !== sb.getTime() || Math.abs(a - Number(b)) < 1e-7;
        if (
          !same(e.dailyUsage, r.du, e.dailyWindowStart, r.ds) ||
          !same(e.weeklyUsage, r.wu, e.weeklyWindowStart, r.ws) ||
          !same(e.monthlyUsage, r.mu, e.monthlyWindowStart, r.ms)
        ) {
          ok = false;
          why = `${why ? `${why}; ` : ""}Redis ${redisText} ≠ PostgreSQL ${r.du}/${r.wu}/${r.mu}`;
        }
      }
    }
    out.push({ key, expected: r.exp, postgres: r.mu, redis: redisText, ok, why });
  }
  return { ok: out.every((k) => k.ok), keys: out };
}

/** Costs in whole 1e-4 USD (the simulator's unit), so sums are exact. */
export function costOf(i: number): number {
  return Math.round((0.01 + ((i * 7919) % 5000) / 10_000) * 10_000) / 10_000;
}
