import Redis from "ioredis";
import type { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import {
  downsampleHistory,
  hourBucket,
  overviewHistory,
  refreshTodayOverview,
  TODAY_LIVE_BELOW_MS,
  TODAY_SNAPSHOT_FRESH_MS,
  userHistory,
} from "@/lib/billing/history";
import { billingKeys } from "@/lib/billing/keys";
import type { UsageSnapshot } from "@/lib/billing/quota-repo";
import { QuotaClock } from "@/lib/billing/windows";
import { prng } from "@/scripts/lib/prng";

import { createUsers, deleteUsers, rawDb } from "../support/billing";
import { makeBilling } from "../support/billing-runtime";
import { testEnv } from "../support/test-env";

/**
 * Usage history (issue 15): every recorded cost lands in usage_rollup_hourly exactly once, in the
 * transaction of the usage it mirrors — direct increments, flusher snapshots — and the sums per
 * user × platform × quota day equal the recorded costs to the 10th decimal.
 */
const TZ = "Asia/Shanghai";
const clock = new QuotaClock(TZ);
const PLATFORMS = ["anthropic", "openai", "gemini"];
const LIMITS = { daily: 1e6, weekly: null, monthly: null };
let c: Client;
let r: Redis;
const created: number[] = [];

beforeAll(async () => {
  c = await rawDb();
  r = new Redis(testEnv().redisUrl);
});
afterAll(async () => {
  await c.query("DELETE FROM usage_rollup_hourly WHERE user_id = ANY($1::bigint[])", [created]);
  await c.query("DELETE FROM usage_rollup_daily WHERE user_id = ANY($1::bigint[])", [created]);
  for (const u of created) for (const p of PLATFORMS) await r.srem(billingKeys.dirtySet, `${u}:${p}`);
  await deleteUsers(c, created);
  await c.end();
  r.disconnect();
});

type Op = { userId: number; platform: string; cost: number; at: number };

/** Σ cost per user:platform:day, exact (numeric in SQL, each cost rounded as the column stores it). */
async function expectedSums(ops: Op[]): Promise<Record<string, string>> {
  const { rows } = await c.query<{ k: string; s: string }>(
    `SELECT u || ':' || p || ':' || (to_timestamp(t / 1000.0) AT TIME ZONE $5)::date AS k, sum(round(x, 10))::numeric(20,10)::text AS s
     FROM unnest($1::bigint[], $2::text[], $3::numeric[], $4::float8[]) AS o(u, p, x, t) GROUP BY 1`,
    [ops.map((o) => o.userId), ops.map((o) => o.platform), ops.map((o) => String(o.cost)), ops.map((o) => o.at), TZ],
  );
  return Object.fromEntries(rows.map((x) => [x.k, x.s]));
}

/** The rollup's sums per user:platform:day, straight from the table. */
async function rollupSums(users: number[]): Promise<Record<string, string>> {
  const { rows } = await c.query<{ k: string; s: string }>(
    `SELECT user_id || ':' || platform || ':' || (bucket_start AT TIME ZONE $2)::date AS k, sum(cost)::text AS s
     FROM usage_rollup_hourly WHERE user_id = ANY($1::bigint[]) GROUP BY 1`,
    [users, TZ],
  );
  return Object.fromEntries(rows.map((x) => [x.k, x.s]));
}

async function rollupRequests(users: number[]): Promise<number> {
  const { rows } = await c.query<{ n: string }>(
    "SELECT coalesce(sum(requests), 0)::text AS n FROM usage_rollup_hourly WHERE user_id = ANY($1::bigint[])",
    [users],
  );
  return Number(rows[0].n);
}

async function newUsers(b: ReturnType<typeof makeBilling>, prefix: string, n: number) {
  const users = await createUsers(c, prefix, n);
  created.push(...users);
  for (const u of users)
    await b.repo.upsertForUser(
      u,
      PLATFORMS.map((platform) => ({ platform, limits: LIMITS })),
    );
  return users;
}

describe("usage history: direct mode", () => {
  it("N requests with random costs over 4 days: the rollup per user × platform × day equals the costs exactly; replays change nothing", async () => {
    const b = makeBilling({ timeZone: TZ });
    try {
      const users = await newUsers(b, "hist-direct", 4);
      const random = prng(15);
      const now = Date.now();
      const ops: Op[] = Array.from({ length: 400 }, () => ({
        userId: users[Math.floor(random() * users.length)],
        platform: PLATFORMS[Math.floor(random() * PLATFORMS.length)],
        // up to 10 decimals, some with more (the column keeps 10; the rollup rounds the same way)
        cost: Math.round(random() * 3e10) / 1e10 + (random() < 0.1 ? 1e-12 : 0) + 1e-10,
        at: now - Math.floor(random() * 4 * 86_400_000),
      }));
      const refused: Array<Op & { index: number }> = [];
      for (let i = 0; i < ops.length; i += 25)
        await Promise.all(
          ops.slice(i, i + 25).map(async (o, j) => {
            const res = await b.service.recordUsage({
              userId: o.userId,
              platform: o.platform,
              cost: o.cost,
              now: o.at,
            });
            if (!res.recorded) refused.push({ ...o, index: i + j });
          }),
        );
      expect(refused).toEqual([]); // every op accepted (a limit exists for each key)
      // Until nothing is parked: an op whose write failed under load (a pool checkout past its
      // timeout on a busy CI machine) is parked with a 0.5 s backoff, so one repairer pass right after
      // the burst does not see it yet — the fresh-clone CI once caught exactly that (one cost short).
      await b.repairer.settleAll();
      const expected = await expectedSums(ops);
      expect(Object.keys(expected).length).toBeGreaterThan(20);
      expect(await rollupSums(users)).toEqual(expected);
      expect(await rollupRequests(users)).toBe(ops.length);

      // The usage row's monthly window (one window, nothing reset) = the rollup of the same key.
      const { rows } = await c.query<{ k: string; mu: string; roll: string }>(
        `SELECT q.user_id || ':' || q.platform AS k, q.monthly_usage_usd::text AS mu,
                (SELECT coalesce(sum(h.cost), 0)::numeric(20,10)::text FROM usage_rollup_hourly h
                 WHERE h.user_id = q.user_id AND h.platform = q.platform) AS roll
         FROM user_platform_quotas q WHERE q.user_id = ANY($1::bigint[]) AND q.deleted_at IS NULL`,
        [users],
      );
      for (const row of rows) expect(row.roll, row.k).toBe(row.mu);

      // A write that never committed (its transaction failed before COMMIT) leaves no bucket behind.
      const before = await rollupSums(users);
      const failed = await b.repo.incrementExactlyOnce({
        userId: users[0],
        platform: "openai",
        cost: 5,
        at: now,
        beforeCommit: async () => {
          throw new Error("crash before COMMIT");
        },
      });
      expect(failed.status).toBe("failed");
      expect(await rollupSums(users)).toEqual(before);

      // A committed write asked about again (the retry protocol): "committed", so it is never re-sent.
      let token = "";
      const many = await b.repo.incrementManyExactlyOnce(
        [
          { userId: users[1], platform: "gemini", cost: 0.1234567891, at: now },
          { userId: users[1], platform: "gemini", cost: 0.0000000001, at: now },
          { userId: users[2], platform: "anthropic", cost: 2, at: now },
        ],
        { beforeCommit: async (t) => void (token = t) },
      );
      expect(many.status).toBe("committed");
      expect(await b.repo.commitStatus(token)).toBe("committed");
      const after = await rollupSums(users);
      const day = dayText(now);
      const plus = async (a: string | undefined, x: string) =>
        (await c.query<{ s: string }>("SELECT ($1::numeric + $2::numeric)::numeric(20,10)::text AS s", [a ?? "0", x]))
          .rows[0].s;
      expect(after[`${users[1]}:gemini:${day}`]).toBe(await plus(before[`${users[1]}:gemini:${day}`], "0.1234567892"));
      expect(after[`${users[2]}:anthropic:${day}`]).toBe(await plus(before[`${users[2]}:anthropic:${day}`], "2"));
    } finally {
      await b.close();
    }
  });
});

function dayText(at: number): string {
  const d = new Date(clock.startOfDay(at) + 12 * 3_600_000);
  return new Intl.DateTimeFormat("en-CA", { timeZone: TZ, year: "numeric", month: "2-digit", day: "2-digit" }).format(
    d,
  );
}

describe("usage history: flusher mode", () => {
  it("N requests with random costs: after the flushes the rollup equals the costs exactly; flushing again changes nothing", async () => {
    const b = makeBilling({ timeZone: TZ, config: { flusherEnabled: true } });
    try {
      const users = await newUsers(b, "hist-flush", 3);
      for (const u of users) for (const p of PLATFORMS) await b.service.checkUserPlatformQuotaEligibility(u, p); // builds the entries
      const random = prng(99);
      const f = b.flusher({ intervalMs: 100 });
      const ops: Op[] = [];
      for (let round = 0; round < 4; round++) {
        const batch: Op[] = Array.from({ length: 60 }, () => ({
          userId: users[Math.floor(random() * users.length)],
          platform: PLATFORMS[Math.floor(random() * PLATFORMS.length)],
          cost: Math.round(random() * 2e6) / 1e6 + 1e-6, // Redis adds floats: 6 decimals stay exact at 10
          at: Date.now(),
        }));
        await Promise.all(
          batch.map((o) => b.service.recordUsage({ userId: o.userId, platform: o.platform, cost: o.cost })),
        );
        ops.push(...batch);
        await f.flush(); // a flush per round: each adds only what it writes over the row
      }
      await b.repairer.settleAll(); // a parked op too (see the direct-mode test)
      await f.flush();
      expect(f.stats.rowsWritten).toBeGreaterThan(0); // the costs went through the snapshots
      const expected = await expectedSums(ops);
      expect(await rollupSums(users)).toEqual(expected);

      // Replay: every key dirty again and flushed again (a flusher retry / crash recovery) — nothing changes.
      for (const u of users) for (const p of PLATFORMS) await r.sadd(billingKeys.dirtySet, `${u}:${p}`);
      await f.flush();
      expect(await rollupSums(users)).toEqual(expected);
      await f.stop();
    } finally {
      await b.close();
    }
  });

  it("a snapshot crossing midnight (and a week or a monthly window) splits its increase by day; the same snapshot twice adds nothing", async () => {
    const b = makeBilling({ timeZone: TZ, config: { flusherEnabled: true } });
    try {
      const [u] = await newUsers(b, "hist-split", 1);
      const sun = Date.parse("2026-11-29T10:00:00+08:00"); // a Sunday
      // PostgreSQL: 1.5 recorded on Sunday (the week of Mon 23rd, monthly window from the 20th).
      await b.repo.incrementUsageWithReset(u, "openai", 1.5, sun);
      const snap = (over: Partial<UsageSnapshot>): UsageSnapshot => ({
        userId: u,
        platform: "openai",
        dailyUsage: 0,
        weeklyUsage: 0,
        monthlyUsage: 0,
        dailyWindowStart: clock.startOfDay(sun),
        weeklyWindowStart: clock.startOfWeek(sun),
        monthlyWindowStart: sun,
        ...over,
      });
      const write = (s: UsageSnapshot) => b.repo.snapshotLocked([{ userId: u, platform: "openai" }], async () => [s]);
      const mon = Date.parse("2026-11-30T09:00:00+08:00");
      // Redis meanwhile: +0.25 on Sunday night, +2 on Monday (a new day AND a new week): monthly tells the total.
      const s1 = snap({
        dailyUsage: 2,
        weeklyUsage: 2,
        monthlyUsage: 3.75,
        dailyWindowStart: clock.startOfDay(mon),
        weeklyWindowStart: clock.startOfWeek(mon),
      });
      await write(s1);
      await write(s1); // replayed: nothing more
      const tue = Date.parse("2026-12-01T09:00:00+08:00");
      // +0.5 on Monday, +1 on Tuesday (same week: the weekly window tells the total).
      const s2 = snap({
        dailyUsage: 1,
        weeklyUsage: 3.5,
        monthlyUsage: 5.25,
        dailyWindowStart: clock.startOfDay(tue),
        weeklyWindowStart: clock.startOfWeek(mon),
      });
      await write(s2);
      await write(s2);
      const { rows } = await c.query<{ day: string; cost: string; bucket: Date }>(
        `SELECT (bucket_start AT TIME ZONE $2)::date::text AS day, sum(cost)::text AS cost, max(bucket_start) AS bucket
         FROM usage_rollup_hourly WHERE user_id = $1 GROUP BY 1 ORDER BY 1`,
        [u, TZ],
      );
      expect(rows.map((x) => [x.day, x.cost])).toEqual([
        ["2026-11-29", "1.7500000000"],
        ["2026-11-30", "2.5000000000"],
        ["2026-12-01", "1.0000000000"],
      ]);
      // Sunday's late part went to the day's last hour; the direct write to its own hour.
      expect(rows[0].bucket.getTime()).toBe(hourBucket(clock, clock.startOfDay(mon) - 1));
    } finally {
      await b.close();
    }
  });
});

describe("usage history: downsampling, retention and reads", () => {
  it("finished days are summed into daily rows (again: the same), hourly rows past the retention go, reads add both up", async () => {
    const b = makeBilling({ timeZone: TZ });
    try {
      const [u, v] = await newUsers(b, "hist-down", 2);
      const now = Date.parse("2026-12-03T15:00:00+08:00");
      const day = 86_400_000;
      // Old data in a table of its own time: rows from 10, 5, 1 days ago and today.
      const at = [now - 10 * day, now - 5 * day, now - 5 * day + 3_600_000, now - day, now];
      for (const t of at) {
        await b.repo.incrementUsageWithReset(u, "anthropic", 1.25, t);
        await b.repo.incrementUsageWithReset(v, "openai", 0.5, t);
      }
      const retention = { hourlyDays: 7, dailyDays: null };
      // Only this test's users in the assertions: other tests' rows may be in the tables too.
      const first = await downsampleHistory(b.pool, clock, retention, now);
      expect(first.days).toBeGreaterThan(0);
      const again = await downsampleHistory(b.pool, clock, retention, now);
      const { rows: daily } = await c.query<{ day: string; cost: string; requests: string }>(
        `SELECT day::text, cost::text, requests::text FROM usage_rollup_daily WHERE user_id = $1 ORDER BY day`,
        [u],
      );
      expect(daily).toEqual([
        { day: "2026-11-23", cost: "1.2500000000", requests: "1" },
        { day: "2026-11-28", cost: "2.5000000000", requests: "2" },
        { day: "2026-12-02", cost: "1.2500000000", requests: "1" },
      ]);
      expect(again.hourlyDeleted).toBe(0);
      const { rows: hourly } = await c.query<{ day: string }>(
        `SELECT DISTINCT (bucket_start AT TIME ZONE $2)::date::text AS day FROM usage_rollup_hourly WHERE user_id = $1 ORDER BY 1`,
        [u, TZ],
      );
      expect(hourly.map((h) => h.day)).toEqual(["2026-11-28", "2026-12-02", "2026-12-03"]); // 11-23 is past 7 days

      const hist = await userHistory(b.pool, clock, retention, { userId: u, days: 30, now });
      expect(hist).toEqual([
        { day: "2026-11-23", platform: "anthropic", cost: "1.2500000000", requests: 1 },
        { day: "2026-11-28", platform: "anthropic", cost: "2.5000000000", requests: 2 },
        { day: "2026-12-02", platform: "anthropic", cost: "1.2500000000", requests: 1 },
        { day: "2026-12-03", platform: "anthropic", cost: "1.2500000000", requests: 1 },
      ]);
      expect(await userHistory(b.pool, clock, retention, { userId: u, days: 2, now, platform: "openai" })).toEqual([]);
      expect(await userHistory(b.pool, clock, retention, { userId: v, days: 2, now, platform: "openai" })).toEqual([
        { day: "2026-12-02", platform: "openai", cost: "0.5000000000", requests: 1 },
        { day: "2026-12-03", platform: "openai", cost: "0.5000000000", requests: 1 },
      ]);
      const { rows: totals } = await c.query<{ cost: string; users: string }>(
        `SELECT t.cost::text, t.users::text FROM usage_rollup_platform_daily t WHERE t.day = '2026-11-28' AND t.platform = 'anthropic'`,
      );
      const { rows: sums } = await c.query<{ cost: string; users: string }>(
        `SELECT sum(cost)::text AS cost, count(*)::text AS users FROM usage_rollup_daily WHERE day = '2026-11-28' AND platform = 'anthropic'`,
      );
      expect(totals).toEqual(sums); // all users' totals of a day = the sum of its daily rows
      const overview = (await overviewHistory(b.pool, clock, { days: 30, now })).rows;
      const mine = overview.filter((o) => o.day === "2026-11-28");
      expect(mine.find((o) => o.platform === "anthropic")?.users).toBeGreaterThanOrEqual(1);
      expect(Number(mine.find((o) => o.platform === "openai")?.cost)).toBeGreaterThanOrEqual(1);
    } finally {
      await b.close();
    }
  });

  it("today's overview: live while aggregating is cheap, the minute's snapshot when it is not, live again once the snapshot is stale", async () => {
    const b = makeBilling({ timeZone: TZ });
    try {
      const [u, v] = await newUsers(b, "hist-today", 2);
      await c.query("DELETE FROM usage_rollup_platform_today");
      const todayOf = async () => {
        const o = await overviewHistory(b.pool, clock, { days: 1, platform: "gemini" });
        return { asOf: o.todayAsOf, rows: o.rows.map((r) => [r.platform, r.cost, r.requests, r.users]) };
      };
      const liveTotals = async () => {
        const { rows } = await c.query<{ cost: string; requests: string; users: string }>(
          `SELECT sum(cost)::text AS cost, sum(requests)::text AS requests, count(DISTINCT user_id)::text AS users
           FROM usage_rollup_hourly WHERE platform = 'gemini' AND bucket_start >= $1 AND bucket_start < $2`,
          [
            new Date(clock.startOfDay(Date.now())),
            new Date(clock.startOfDay(clock.startOfDay(Date.now()) + 36 * 3_600_000)),
          ],
        );
        return [["gemini", rows[0].cost, Number(rows[0].requests), Number(rows[0].users)]];
      };
      await b.repo.incrementUsageWithReset(u, "gemini", 0.125, Date.now());
      await b.repo.incrementUsageWithReset(v, "gemini", 0.25, Date.now());
      // A cost recorded with an instant of tomorrow (a skewed clock) is tomorrow's, never today's.
      const tomorrow = clock.startOfDay(clock.startOfDay(Date.now()) + 36 * 3_600_000);
      await b.repo.incrementUsageWithReset(u, "gemini", 4, tomorrow + 3_600_000);
      const live = await liveTotals();
      expect(await todayOf()).toEqual({ asOf: null, rows: live }); // no snapshot: live

      const refreshed = await refreshTodayOverview(b.pool, clock);
      expect(refreshed).not.toBeNull();
      const { rows: snap } = await c.query<{ compute_ms: number; computed_at: Date }>(
        "SELECT compute_ms, computed_at FROM usage_rollup_platform_today WHERE platform = 'gemini'",
      );
      expect(snap).toHaveLength(1);
      expect(snap[0].compute_ms).toBeGreaterThanOrEqual(0);
      // A fresh snapshot that was cheap to compute: the overview stays live (exact at once).
      await c.query("UPDATE usage_rollup_platform_today SET compute_ms = $1", [TODAY_LIVE_BELOW_MS - 1]);
      expect(await todayOf()).toEqual({ asOf: null, rows: live });

      // A slow aggregation (a large installation) makes the fresh snapshot the source of today:
      await c.query("UPDATE usage_rollup_platform_today SET compute_ms = $1", [TODAY_LIVE_BELOW_MS]);
      await b.repo.incrementUsageWithReset(u, "gemini", 1, Date.now()); // after the snapshot
      const fromSnapshot = await todayOf();
      expect(fromSnapshot.asOf).toBe(snap[0].computed_at.toISOString());
      expect(fromSnapshot.rows).toEqual(live); // the snapshot's figures, without the later cost
      expect(await liveTotals()).not.toEqual(live);

      // The next refresh holds it; a snapshot past TODAY_SNAPSHOT_FRESH_MS is ignored (live again).
      await refreshTodayOverview(b.pool, clock);
      await c.query("UPDATE usage_rollup_platform_today SET compute_ms = $1", [TODAY_LIVE_BELOW_MS]);
      expect((await todayOf()).rows).toEqual(await liveTotals());
      await c.query(
        "UPDATE usage_rollup_platform_today SET computed_at = computed_at - $1 * interval '1 millisecond'",
        [TODAY_SNAPSHOT_FRESH_MS + 1],
      );
      await b.repo.incrementUsageWithReset(v, "gemini", 2, Date.now());
      expect(await todayOf()).toEqual({ asOf: null, rows: await liveTotals() });
    } finally {
      await c.query("DELETE FROM usage_rollup_platform_today");
      await b.close();
    }
  });
});
