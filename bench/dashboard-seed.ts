// The dashboard benchmark's seed (bench/dashboard.ts) and the checks of its responses against it.
import type Redis from "ioredis";
import type pg from "pg";

import { DEFAULT_PLATFORMS } from "@/lib/billing/platforms";
import { QuotaCache } from "@/lib/billing/quota-cache";
import type { UserPageQuotaJson } from "@/lib/users/list-sql";

import { quotaEntry } from "./lib/fixtures";
import type { Fetched } from "./lib/http";
import { BenchError } from "./lib/run";

export const OTHER_USERS = 1000;
export const API_PATH = "/api/v1/user/platform-quotas";
/** Added to the row's usage in each Redis entry: a value ending in .25 proves the cache was read. */
export const CACHE_BUMP = 0.25;

/** The user's 8 rows: limits (null = unlimited) and usage per window. */
export const MY_QUOTAS = (
  [
    ["anthropic", 10, null, null, 3, 7, 12],
    ["openai", null, null, 100, 2, 20, 42],
    ["gemini", null, 0, null, 0, 0, 0],
    ["antigravity", 5, 20, null, 5, 5, 5],
    ["grok", null, null, null, 1.5, 1.5, 1.5],
    ["kimi", null, null, 50, 1, 4, 10],
    ["zhipu", null, null, null, 0, 0, 0],
    ["deepseek", 2, 10, 30, 0.5, 4, 9],
  ] as const
).map(([platform, dl, wl, ml, du, wu, mu]) => ({ platform, dl, wl, ml, du, wu, mu }) as Seeded);
type Seeded = Omit<UserPageQuotaJson, "id" | "ds" | "ws" | "ms">;
/** Platforms that get a Redis entry: every other one. */
export const CACHED = new Set(MY_QUOTAS.filter((_, i) => i % 2 === 0).map((q) => q.platform));
/** Platforms with at least one limit: the dashboard shows a card for each. */
export const CARDS = MY_QUOTAS.filter((q) => q.dl !== null || q.wl !== null || q.ml !== null).map((q) => q.platform);

type ApiItem = Record<string, unknown> & { platform: string };

/** 200 (checked by get), code 0 and exactly 8 items, or throws. Returns the items. */
export function checkApi(f: Fetched): ApiItem[] {
  let json: { code?: unknown; data?: { platform_quotas?: unknown } };
  try {
    json = JSON.parse(f.body) as typeof json;
  } catch {
    throw new BenchError(`GET ${API_PATH}: 200 but not JSON: ${f.body.slice(0, 200)}`);
  }
  const items = json.data?.platform_quotas;
  if (json.code !== 0 || !Array.isArray(items) || items.length !== MY_QUOTAS.length) {
    throw new BenchError(`GET ${API_PATH}: expected code 0 and ${MY_QUOTAS.length} items, got ${f.body.slice(0, 300)}`);
  }
  return items as ApiItem[];
}

/**
 * Every item against the seed: limits from the row, usage from Redis (row + CACHE_BUMP) for the
 * cached platforms and from the row for the others. Returns the differences (empty = all as expected).
 */
export function checkItems(items: ApiItem[]): string[] {
  const problems: string[] = [];
  const byPlatform = new Map(items.map((i) => [i.platform, i]));
  for (const q of MY_QUOTAS) {
    const it = byPlatform.get(q.platform);
    if (!it) {
      problems.push(`${q.platform}: missing`);
      continue;
    }
    const bump = CACHED.has(q.platform) ? CACHE_BUMP : 0;
    const want: Record<string, number | null> = {
      ...{ daily_limit_usd: q.dl, weekly_limit_usd: q.wl, monthly_limit_usd: q.ml },
      ...{ daily_usage_usd: q.du + bump, weekly_usage_usd: q.wu + bump, monthly_usage_usd: q.mu + bump },
    };
    for (const [k, v] of Object.entries(want)) {
      if (it[k] !== v) problems.push(`${q.platform}.${k}: ${JSON.stringify(it[k])}, expected ${v}`);
    }
  }
  return problems;
}

export async function seed(pool: pg.Pool, redis: Redis): Promise<{ userId: number; cachedKeys: number }> {
  const { rows: me } = await pool.query<{ id: string }>(
    `INSERT INTO users (email, username, password_hash, role, status, signup_source, balance, created_at)
     VALUES ('me@dashboard.bench', 'bench-me', 'x', 'user', 'active', 'email', 12.34, now() - interval '30 days') RETURNING id`,
  );
  const userId = Number(me[0].id);
  // Window starts = now, to the second (the Redis encoding keeps whole seconds).
  const { rows: mine } = await pool.query<{ platform: string; ds: string; ws: string; ms: string }>(
    `INSERT INTO user_platform_quotas (user_id, platform, daily_limit_usd, weekly_limit_usd, monthly_limit_usd,
        daily_usage_usd, weekly_usage_usd, monthly_usage_usd, daily_window_start, weekly_window_start, monthly_window_start)
     SELECT $1, q.platform, q.dl, q.wl, q.ml, q.du, q.wu, q.mu, date_trunc('second', now()), date_trunc('second', now()), date_trunc('second', now())
     FROM json_to_recordset($2::json) AS q(platform text, dl numeric, wl numeric, ml numeric, du numeric, wu numeric, mu numeric)
     RETURNING platform,
       (extract(epoch FROM daily_window_start) * 1000)::bigint::text AS ds,
       (extract(epoch FROM weekly_window_start) * 1000)::bigint::text AS ws,
       (extract(epoch FROM monthly_window_start) * 1000)::bigint::text AS ms`,
    [userId, JSON.stringify(MY_QUOTAS)],
  );
  await pool.query(
    `INSERT INTO users (email, username, password_hash, role, status, signup_source, balance, created_at)
     SELECT 'other-' || g || '@dashboard.bench', 'o' || g, 'x', 'user', 'active', 'email', (g % 100)::numeric, now() - make_interval(mins => g)
     FROM generate_series(1, $1::int) g`,
    [OTHER_USERS],
  );
  // 8 rows per other user; limits and usage cycle with the user number.
  await pool.query(
    `INSERT INTO user_platform_quotas (user_id, platform, daily_limit_usd, weekly_limit_usd, monthly_limit_usd,
        daily_usage_usd, weekly_usage_usd, monthly_usage_usd, daily_window_start, weekly_window_start, monthly_window_start)
     SELECT u.id, p.platform,
            CASE WHEN u.n % 3 = 0 THEN 10 END, CASE WHEN u.n % 4 = 0 THEN 50 END, CASE WHEN u.n % 2 = 0 THEN 100 END,
            u.n % 12, u.n % 40, u.n % 110, now(), now(), now()
     FROM (SELECT id, substring(email FROM '^other-([0-9]+)@')::int AS n FROM users WHERE email LIKE 'other-%@dashboard.bench') u
     CROSS JOIN unnest($1::text[]) AS p(platform)`,
    [[...DEFAULT_PLATFORMS]],
  );
  await pool.query("ANALYZE");

  // Current Redis entries for half of the user's platforms: the row's limits and window starts,
  // usage + CACHE_BUMP. TTL 3600 s outlives the run.
  const cache = new QuotaCache(redis);
  const starts = new Map(mine.map((r) => [r.platform, { ds: Number(r.ds), ws: Number(r.ws), ms: Number(r.ms) }]));
  let cachedKeys = 0;
  for (const q of MY_QUOTAS) {
    if (!CACHED.has(q.platform)) continue;
    const s = starts.get(q.platform);
    if (!s) throw new Error(`seed: no row for ${q.platform}`);
    const bump = CACHE_BUMP;
    const entry = quotaEntry([q.du + bump, q.wu + bump, q.mu + bump], [q.dl, q.wl, q.ml], [s.ds, s.ws, s.ms]);
    await cache.set(userId, q.platform, entry, 3600);
    cachedKeys++;
  }
  return { userId, cachedKeys };
}
