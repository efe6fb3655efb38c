import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { QuotaClock } from "@/lib/billing/windows";
import { readSpendSparklines, sparkDays } from "@/lib/users/sparkline";

import { rawDb } from "../support/billing";
import { testEnv } from "../support/test-env";

/**
 * The users list's 7-day spend sparkline (issue 15): per listed user, the cost per quota day summed
 * over platforms, read for the whole page in ONE statement — hourly buckets where the retention
 * keeps them, daily sums before — and days that are the quota time zone's, not UTC's.
 */
let c: pg.Client;
let pool: pg.Pool;
const clock = new QuotaClock("Asia/Shanghai");
// 01:30 in Shanghai on Nov 25 = 17:30 UTC on Nov 24: the quota day and the UTC day differ.
const NOW = Date.parse("2026-11-25T01:30:00+08:00");
const ids: number[] = [];

beforeAll(async () => {
  c = await rawDb();
  pool = new pg.Pool({ connectionString: testEnv().databaseUrl, max: 2 });
  const { rows } = await c.query<{ id: string }>(
    `INSERT INTO users (email, password_hash) SELECT 'spark-' || g || '@list.test', 'x' FROM generate_series(1, 3) g
     RETURNING id`,
  );
  ids.push(...rows.map((r) => Number(r.id)));
  const [a, b] = ids;
  const hourly = (user: number, platform: string, at: string, cost: string) =>
    c.query(
      `INSERT INTO usage_rollup_hourly (user_id, platform, bucket_start, cost, requests) VALUES ($1, $2, $3, $4, 1)`,
      [user, platform, new Date(at), cost],
    );
  // a: today (Nov 25, Shanghai) on two platforms, in the hour after midnight — which is still
  // Nov 24 in UTC; yesterday late evening; 6 days ago (the oldest day shown) and 7 days ago (not shown) as daily sums.
  await hourly(a, "anthropic", "2026-11-25T00:00:00+08:00", "1.2500000000");
  await hourly(a, "openai", "2026-11-25T01:00:00+08:00", "0.0049999999");
  await hourly(a, "anthropic", "2026-11-24T23:00:00+08:00", "2.0000000000");
  await c.query(
    `INSERT INTO usage_rollup_daily (user_id, platform, day, cost, requests) VALUES ($1, 'anthropic', $2, 3.33, 1)`,
    [a, "2026-11-19"],
  );
  await c.query(
    `INSERT INTO usage_rollup_daily (user_id, platform, day, cost, requests) VALUES ($1, 'anthropic', $2, 100, 1)`,
    [a, "2026-11-18"],
  );
  // b: days older than a 3-day hourly retention come from the daily sums (its hourly rows there
  // were downsampled and deleted); the hourly part from the retention cutoff on.
  await c.query(
    `INSERT INTO usage_rollup_daily (user_id, platform, day, cost, requests) VALUES
       ($1, 'gemini', '2026-11-20', 4.5, 3), ($1, 'grok', '2026-11-20', 0.5, 1), ($1, 'gemini', '2026-11-22', 7, 1)`,
    [b],
  );
  await hourly(b, "gemini", "2026-11-23T08:00:00+08:00", "0.1000000000");
});
afterAll(async () => {
  await c.query("DELETE FROM usage_rollup_hourly WHERE user_id = ANY($1::bigint[])", [ids]);
  await c.query("DELETE FROM usage_rollup_daily WHERE user_id = ANY($1::bigint[])", [ids]);
  await c.query("DELETE FROM users WHERE email LIKE 'spark-%@list.test'");
  await pool.end();
  await c.end();
});

describe("users list sparkline", () => {
  it("names the last 7 quota days, oldest first, in the quota time zone", () => {
    expect(sparkDays(clock, NOW).days).toEqual([
      "2026-11-19",
      "2026-11-20",
      "2026-11-21",
      "2026-11-22",
      "2026-11-23",
      "2026-11-24",
      "2026-11-25",
    ]);
  });

  it("sums each quota day over platforms for every listed user in one statement; 0 for no usage", async () => {
    let statements = 0;
    const counting = {
      query: (text: string, values?: unknown[]) => (statements++, pool.query(text, values)),
    } as unknown as pg.Pool;
    const [a, b, none] = ids;
    const { days, spend } = await readSpendSparklines(counting, clock, { hourlyDays: 3, dailyDays: null }, ids, NOW);
    expect(statements).toBe(1);
    expect(days).toHaveLength(7);
    // today 1.25 + 0.0049999999 = 1.2549999999, to the cent 1.25; the 100 of Nov 18 is not shown
    expect(spend.get(a)).toEqual([3.33, 0, 0, 0, 0, 2, 1.25]);
    // Nov 20 and 22 from the daily sums (before the 3-day hourly cutoff, Nov 23), Nov 23 hourly
    expect(spend.get(b)).toEqual([0, 5, 0, 7, 0.1, 0, 0]);
    expect(spend.get(none)).toEqual([0, 0, 0, 0, 0, 0, 0]);
  });

  it("asks nothing for an empty page", async () => {
    let statements = 0;
    const counting = { query: () => (statements++, Promise.reject(new Error("no query expected"))) };
    const r = await readSpendSparklines(
      counting as unknown as pg.Pool,
      clock,
      { hourlyDays: 90, dailyDays: null },
      [],
      NOW,
    );
    expect(statements).toBe(0);
    expect(r.spend.size).toBe(0);
  });
});
