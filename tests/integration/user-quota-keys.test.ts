import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import type { BillingRuntime } from "@/lib/billing";
import { UsageLogRollup } from "@/lib/billing/usage-log-rollup";
import { QuotaClock } from "@/lib/billing/windows";
import { BulkWorker, previewBulk, startBulkJob, startBulkUndo } from "@/lib/bulk/engine";
import type { BulkRequest } from "@/lib/bulk/types";
import { resetUserQuotaWindow, saveUserQuotas } from "@/lib/quota/admin";
import { readQuotaVersion } from "@/lib/quota/version";
import { QUOTA_SORTS, userPageQuery, type UserPageFilter } from "@/lib/users/list-sql";
import { quotaKeysComplete, QuotaKeysRefresher, refreshQuotaKeys } from "@/lib/users/quota-keys";
import { signUpUser } from "@/lib/users/signup";

import { rawDb } from "../support/billing";
import { makeBilling } from "../support/billing-runtime";
import { ATTACHED } from "../support/gateway-fixture";
import { testEnv } from "../support/test-env";

/**
 * The users list's quota keys (docs/users-list-scale.md §3): after random quota rows the table equals a
 * recomputation written here from the list's live rules (lib/users/list-sql.ts) — and the live
 * statement's own order and "over 80 %" membership; every console writer leaves it fresh in its
 * transaction; the refresher picks up raw-SQL changes within a sweep cycle, usage (recordUsage
 * standalone, usage_logs attached) at the next tick, rolled-over windows once valid_until passed; and
 * only one refresher ticks at a time. Runs in both layouts.
 */
const clock = new QuotaClock("Asia/Shanghai");
const PLATFORMS = ["anthropic", "openai", "gemini", "antigravity"];
const TAG = `uqk${Math.floor(Math.random() * 1e9)}`;
const admin = { id: 1, email: "keys-admin@example.com" };
let c: pg.Client;
let pool: pg.Pool;
const runtimes: BillingRuntime[] = [];
const created: number[] = [];

beforeAll(async () => {
  c = await rawDb();
  pool = new pg.Pool({ connectionString: testEnv().databaseUrl, max: 6 });
});
afterAll(async () => {
  for (const r of runtimes) await r.close();
  if (created.length) await c.query("DELETE FROM users WHERE id = ANY($1::bigint[])", [created]);
  await pool?.end();
  await c?.end();
});

function rt(): BillingRuntime {
  const b = makeBilling({ redisUrl: null });
  runtimes.push(b);
  return b;
}

async function users(n: number, tag = TAG): Promise<number[]> {
  const { rows } = await c.query<{ id: string }>(
    `INSERT INTO users (email, password_hash) SELECT $1 || '-' || g || '-' || floor(random() * 1e9)::bigint || '@keys.test', 'x'
     FROM generate_series(1, $2) g RETURNING id`,
    [tag, n],
  );
  const ids = rows.map((r) => Number(r.id));
  created.push(...ids);
  return ids;
}

/** A deterministic pseudo-random generator (the failing seed is printed by the assertion message). */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s / 2 ** 32;
  };
}

/**
 * Random quota rows for `ids` as of `now`: 0–4 platforms each, some deleted rows next to them; each
 * limit null / 0 / positive; each window's start current, expired or never started (null start,
 * usage 0, as the gateway leaves it); usages with 10 decimals, sometimes over the limit.
 */
async function randomRows(ids: number[], now: number, seed: number) {
  const r = rng(seed);
  const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)];
  const sod = clock.startOfDay(now);
  const sow = clock.startOfWeek(now);
  const vals: unknown[][] = [];
  const usage = () => (r() < 0.25 ? "0" : (r() * 30).toFixed(10));
  const limit = () => pick([null, null, "0", (1 + r() * 20).toFixed(4), (r() * 5).toFixed(10)]);
  const start = (cur: () => number, old: () => number) => {
    const x = r();
    return x < 0.15 ? null : x < 0.65 ? new Date(cur()) : new Date(old());
  };
  for (const id of ids) {
    const n = Math.floor(r() * 5);
    const plats = [...PLATFORMS].sort(() => r() - 0.5).slice(0, n);
    for (const p of plats) {
      for (const deleted of r() < 0.2 ? [true, false] : [false]) {
        const ds = start(
          () => sod + Math.floor(r() * Math.max(1, now - sod)),
          () => sod - 1 - Math.floor(r() * 3 * 86_400_000),
        );
        const ws = start(
          () => sow + Math.floor(r() * Math.max(1, now - sow)),
          () => sow - 1 - Math.floor(r() * 14 * 86_400_000),
        );
        const ms = start(
          () => now - Math.floor(r() * 719 * 3_600_000),
          () => now - 720 * 3_600_000 - Math.floor(r() * 10 * 86_400_000),
        );
        vals.push([
          id,
          p,
          limit(),
          limit(),
          limit(),
          ds === null ? "0" : usage(),
          ws === null ? "0" : usage(),
          ms === null ? "0" : usage(),
          ds,
          ws,
          ms,
          deleted ? new Date(now - 1000) : null,
        ]);
      }
    }
  }
  for (const v of vals)
    await c.query(
      `INSERT INTO user_platform_quotas (user_id, platform, daily_limit_usd, weekly_limit_usd, monthly_limit_usd,
         daily_usage_usd, weekly_usage_usd, monthly_usage_usd, daily_window_start, weekly_window_start, monthly_window_start, deleted_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
      v,
    );
}

/**
 * The users (of `ids`) whose key row differs from the list's live rules at `now`, written here as the
 * live statements read them (quotaKeySql's branches, userFilterSql's "has a limit" and "over 80 %"):
 * a missing or extra row, any differing value, day/week start not the current one, valid_until not
 * after computed_at. Empty = fresh.
 */
async function stale(ids: number[], now: number): Promise<unknown[]> {
  const { rows } = await c.query(
    `WITH ids AS (SELECT unnest($1::bigint[]) AS id),
     e AS (
       SELECT i.id AS user_id,
         EXISTS (SELECT 1 FROM user_platform_quotas q WHERE q.user_id = i.id AND q.deleted_at IS NULL
           AND (q.daily_limit_usd IS NOT NULL OR q.weekly_limit_usd IS NOT NULL OR q.monthly_limit_usd IS NOT NULL)) AS has_limit,
         coalesce((SELECT sum(q.daily_usage_usd) FROM user_platform_quotas q WHERE q.user_id = i.id AND q.deleted_at IS NULL
           AND q.daily_window_start >= $2 AND q.daily_usage_usd > 0), 0) AS spend_day,
         coalesce((SELECT sum(q.weekly_usage_usd) FROM user_platform_quotas q WHERE q.user_id = i.id AND q.deleted_at IS NULL
           AND q.weekly_window_start >= $3 AND q.weekly_usage_usd > 0), 0) AS spend_week,
         coalesce((SELECT sum(q.monthly_usage_usd) FROM user_platform_quotas q WHERE q.user_id = i.id AND q.deleted_at IS NULL
           AND q.monthly_window_start > $4 AND q.monthly_usage_usd > 0), 0) AS spend_month,
         coalesce((SELECT max(w.r) FROM (
             SELECT q.daily_usage_usd / q.daily_limit_usd AS r FROM user_platform_quotas q
               WHERE q.user_id = i.id AND q.deleted_at IS NULL AND q.daily_window_start >= $2 AND q.daily_limit_usd > 0
             UNION ALL SELECT q.weekly_usage_usd / q.weekly_limit_usd FROM user_platform_quotas q
               WHERE q.user_id = i.id AND q.deleted_at IS NULL AND q.weekly_window_start >= $3 AND q.weekly_limit_usd > 0
             UNION ALL SELECT q.monthly_usage_usd / q.monthly_limit_usd FROM user_platform_quotas q
               WHERE q.user_id = i.id AND q.deleted_at IS NULL AND q.monthly_window_start > $4 AND q.monthly_limit_usd > 0) w), 0) AS cap,
         EXISTS (SELECT 1 FROM user_platform_quotas q WHERE q.user_id = i.id AND q.deleted_at IS NULL AND (
              (q.daily_limit_usd > 0 AND (q.daily_window_start IS NULL OR q.daily_window_start >= $2) AND q.daily_usage_usd >= 0.8 * q.daily_limit_usd)
           OR (q.weekly_limit_usd > 0 AND (q.weekly_window_start IS NULL OR q.weekly_window_start >= $3) AND q.weekly_usage_usd >= 0.8 * q.weekly_limit_usd)
           OR (q.monthly_limit_usd > 0 AND (q.monthly_window_start IS NULL OR q.monthly_window_start > $4) AND q.monthly_usage_usd >= 0.8 * q.monthly_limit_usd))) AS over80
       FROM ids i WHERE EXISTS (SELECT 1 FROM user_platform_quotas q WHERE q.user_id = i.id AND q.deleted_at IS NULL))
     SELECT coalesce(e.user_id, k.user_id)::text AS user_id, e.spend_day::text AS e_day, k.spend_day::text AS k_day,
            e.cap::text AS e_cap, k.cap::text AS k_cap, e.has_limit AS e_limit, k.has_limit AS k_limit
     FROM e FULL JOIN (SELECT * FROM user_quota_keys WHERE user_id = ANY($1::bigint[])) k ON k.user_id = e.user_id
     WHERE e.user_id IS NULL OR k.user_id IS NULL OR e.has_limit <> k.has_limit
        OR e.spend_day <> k.spend_day OR e.spend_week <> k.spend_week OR e.spend_month <> k.spend_month
        OR e.cap <> k.cap OR e.over80 <> (k.cap >= 0.8)
        OR k.day_start <> $2 OR k.week_start <> $3 OR k.valid_until <= k.computed_at`,
    [ids, new Date(clock.startOfDay(now)), new Date(clock.startOfWeek(now)), new Date(now - 720 * 3_600_000)],
  );
  return rows;
}

/** A tick whose sweep covers no user (its cursor past every id): only the step under test works. */
async function isolatedTick(r: QuotaKeysRefresher, now: number) {
  await c.query("UPDATE user_quota_keys_state SET sweep_after = 9000000000000000000 WHERE name = 'refresher'");
  const t = await r.tick(now);
  if (t.status !== "done") throw new Error("busy");
  return t;
}

const refresher = (config: ConstructorParameters<typeof QuotaKeysRefresher>[1] = {}) =>
  new QuotaKeysRefresher({ pool, clock }, config);

describe("user_quota_keys", () => {
  it("backfill fills an empty table in bounded batches; the rows equal the live rules, the live statement's order and its over-80 % filter", async () => {
    const now = Date.now();
    const ids = await users(60);
    await randomRows(ids, now, 1);
    // batches of 7 users by id (ids cross a digit boundary); a sweep of 1: the backfill alone fills it
    const r = refresher({ backfillBatch: 7, sweepBatch: 1 });
    const first = await r.tick(now);
    expect(first).toMatchObject({ status: "done", backfillDone: true });
    expect(await quotaKeysComplete(pool)).toBe(true);
    expect(await stale(ids, now), "seed 1").toEqual([]);

    // The live list statement's own order for each quota sort equals the keys' (0 for users without a row).
    const f: UserPageFilter = {
      q: TAG,
      role: "",
      status: "",
      source: "",
      limit: "",
      over80: "",
      sort: "created",
      dir: "desc",
      page: 1,
    };
    const keyOf: Record<string, string> = {
      spend_day: "CASE WHEN k.day_start = $2 THEN k.spend_day ELSE 0 END",
      spend_week: "CASE WHEN k.week_start = $3 THEN k.spend_week ELSE 0 END",
      spend_month: "k.spend_month",
      cap: "k.cap",
    };
    for (const sort of QUOTA_SORTS) {
      for (const dir of ["desc", "asc"] as const) {
        const live = await c.query<{ id: string }>(userPageQuery({ ...f, sort, dir }, clock, now));
        const d = dir.toUpperCase();
        const keyed = await c.query<{ id: string }>(
          `SELECT u.id FROM users u LEFT JOIN user_quota_keys k ON k.user_id = u.id
           WHERE u.id = ANY($1::bigint[]) AND u.deleted_at IS NULL AND $2::timestamptz = $2 AND $3::timestamptz = $3
           ORDER BY coalesce(${keyOf[sort]}, 0) ${d}, u.id ${d} LIMIT 50`,
          [ids, new Date(clock.startOfDay(now)), new Date(clock.startOfWeek(now))],
        );
        expect(
          keyed.rows.map((x) => x.id),
          `${sort} ${dir}`,
        ).toEqual(live.rows.map((x) => x.id));
      }
    }
    for (const filter of [{ over80: "1" as const }, { limit: "1" as const }]) {
      const live = await c.query<{ id: string }>(userPageQuery({ ...f, ...filter }, clock, now));
      const col = filter.over80 ? "k.cap >= 0.8" : "k.has_limit";
      const keyed = await c.query<{ id: string }>(
        `SELECT u.id FROM users u JOIN user_quota_keys k ON k.user_id = u.id
         WHERE u.id = ANY($1::bigint[]) AND u.deleted_at IS NULL AND ${col} ORDER BY u.created_at DESC, u.id DESC`,
        [ids],
      );
      expect(keyed.rows.map((x) => x.id).sort()).toEqual(live.rows.map((x) => x.id).sort());
    }
  });

  it("refreshQuotaKeys recomputes any set of users exactly (several random seeds), and drops users without rows", async () => {
    for (const seed of [2, 3, 4]) {
      const now = Date.now();
      const ids = await users(40);
      await randomRows(ids, now, seed);
      await refreshQuotaKeys(pool, clock, ids, now);
      expect(await stale(ids, now), `seed ${seed}`).toEqual([]);
      await c.query("UPDATE user_platform_quotas SET deleted_at = now() WHERE user_id = ANY($1::bigint[])", [
        ids.slice(0, 10),
      ]);
      await refreshQuotaKeys(pool, clock, ids, now);
      expect(await stale(ids, now), `seed ${seed} deleted`).toEqual([]);
      const left = await c.query("SELECT 1 FROM user_quota_keys WHERE user_id = ANY($1::bigint[])", [ids.slice(0, 10)]);
      expect(left.rowCount).toBe(0);
    }
  });

  it("valid_until: the values hold until it; once it passed, a tick recomputes the expired rows (and only needs them)", async () => {
    const now = Date.now();
    const ids = await users(50);
    await randomRows(ids, now, 5);
    await refreshQuotaKeys(pool, clock, ids, now);
    const { rows } = await c.query<{ user_id: string; vu: Date; inf: boolean }>(
      "SELECT user_id::text, valid_until AS vu, valid_until = 'infinity' AS inf FROM user_quota_keys WHERE user_id = ANY($1::bigint[])",
      [ids],
    );
    const finite = rows.filter((x) => !x.inf);
    expect(finite.length).toBeGreaterThan(5);
    // Just before its valid_until, each row still equals the live rules (spend_day/week aside: those
    // are read against day_start, which the check requires to be current — so only same-day instants).
    for (const x of finite) {
      const before = x.vu.getTime() - 1;
      if (clock.startOfDay(before) !== clock.startOfDay(now)) continue;
      expect(await stale([Number(x.user_id)], before), `user ${x.user_id} before ${x.vu.toISOString()}`).toEqual([]);
    }
    // After the next local midnight + 1 h, every daily-limited row rolled over.
    const later = clock.dateEnd(now) + 3_600_000;
    const due = finite.filter((x) => x.vu.getTime() <= later).length;
    expect(due).toBeGreaterThan(0);
    const t = await isolatedTick(refresher({ expiredBatch: 1000 }), later);
    expect(t.expired).toBeGreaterThanOrEqual(due);
    // The rows whose valid_until passed now equal the live rules at `later` in cap / month; day and
    // week are read by the list against day_start, so the rows not rewritten are still right there.
    const rewritten = await c.query<{ user_id: string }>(
      "SELECT user_id::text FROM user_quota_keys WHERE user_id = ANY($1::bigint[]) AND computed_at = $2",
      [ids, new Date(later)],
    );
    expect(rewritten.rowCount).toBeGreaterThanOrEqual(due);
    expect(
      await stale(
        rewritten.rows.map((x) => Number(x.user_id)),
        later,
      ),
    ).toEqual([]);
    const left = await c.query(
      "SELECT 1 FROM user_quota_keys WHERE user_id = ANY($1::bigint[]) AND valid_until <= $2",
      [ids, new Date(later)],
    );
    expect(left.rowCount).toBe(0);
  });

  it("each console writer leaves the table fresh in its own transaction: quota save, reset, bulk batch and its undo, sign-up", async () => {
    const deps = { billing: rt() };
    const ids = await users(6);
    const now = Date.now();
    await randomRows(ids, now, 6);
    await refreshQuotaKeys(pool, clock, ids, now);
    const usage =
      "UPDATE user_platform_quotas SET daily_usage_usd = 7, daily_window_start = $2 WHERE user_id = $1 AND deleted_at IS NULL";

    // per-user save (a new limit, removed platforms), then raw usage (stale), then a save that reads it
    const save = async (limits: { daily: number | null; weekly: number | null; monthly: number | null }) => {
      const r = await saveUserQuotas(
        ids[0],
        [{ platform: "openai", limits }],
        admin,
        await readQuotaVersion(pool, ids[0]),
        deps,
      );
      expect(r.ok).toBe(true);
      expect(await stale([ids[0]], Date.now())).toEqual([]);
    };
    await save({ daily: 8, weekly: null, monthly: null });
    await c.query(usage, [ids[0], new Date(clock.startOfDay(now))]);
    expect(await stale([ids[0]], Date.now())).not.toEqual([]);
    await save({ daily: 8, weekly: 100, monthly: null });
    const k0 = await c.query("SELECT cap::text, has_limit FROM user_quota_keys WHERE user_id = $1", [ids[0]]);
    expect(k0.rows[0]).toEqual({ cap: "0.87500000000000000000", has_limit: true });

    // reset of one window
    const reset = await resetUserQuotaWindow(ids[0], "openai", "daily", admin, deps);
    expect(reset.ok).toBe(true);
    expect(await stale([ids[0]], Date.now())).toEqual([]);
    expect(
      Number((await c.query("SELECT cap::text FROM user_quota_keys WHERE user_id = $1", [ids[0]])).rows[0].cap),
    ).toBe(0);

    // bulk: set limits, reset usage, then undo the first — each batch recomputes its users
    const worker = new BulkWorker(deps, { batchSize: 2 });
    const bulk = async (req: BulkRequest) => {
      const p = await previewBulk(req, deps);
      const s = await startBulkJob(req, p.fingerprint, admin, deps);
      if (!s.ok) throw new Error(s.code);
      await worker.runOnce();
      return s.jobId;
    };
    for (const id of ids.slice(1)) await c.query(usage, [id, new Date(clock.startOfDay(Date.now()))]);
    const job = await bulk({
      selection: { kind: "ids", userIds: ids },
      operation: {
        kind: "set_limits",
        platforms: ["anthropic", "gemini"],
        windows: ["daily"],
        value: { mode: "value", usd: 9 },
      },
    });
    expect(await stale(ids, Date.now())).toEqual([]);
    await bulk({
      selection: { kind: "ids", userIds: ids },
      operation: { kind: "reset_usage", platforms: PLATFORMS, windows: ["daily"] },
    });
    expect(await stale(ids, Date.now())).toEqual([]);
    const undo = await startBulkUndo(job, admin, deps);
    if (!undo.ok) throw new Error(undo.code);
    await worker.runOnce();
    expect(await stale(ids, Date.now())).toEqual([]);

    // sign-up's snapshot
    const s = await signUpUser({ email: `${TAG}-signup@keys.test`, password: "pw-123456789", source: "email" });
    if (!s.ok) throw new Error(s.code);
    created.push(s.userId);
    expect(await stale([s.userId], Date.now())).toEqual([]);
    const mine = await c.query("SELECT 1 FROM user_quota_keys WHERE user_id = $1", [s.userId]);
    expect(mine.rowCount).toBe(1);
  });

  it("a raw-SQL change (as the gateway would make) is picked up within one sweep cycle (⌈users / sweepBatch⌉ + 1 ticks)", async () => {
    const ids = await users(5);
    const [untouched] = await users(1);
    const now = Date.now();
    await randomRows(ids, now, 7);
    await c.query("INSERT INTO user_platform_quotas (user_id, platform, daily_limit_usd) VALUES ($1, 'openai', 2)", [
      untouched,
    ]);
    await refreshQuotaKeys(pool, clock, [...ids, untouched], now);
    const version = async () =>
      (await c.query("SELECT xmin::text AS x FROM user_quota_keys WHERE user_id = $1", [untouched])).rows[0].x;
    const before = await version();
    await c.query(
      "UPDATE user_platform_quotas SET daily_limit_usd = 0.5, daily_usage_usd = 0.45, daily_window_start = $2 WHERE user_id = ANY($1::bigint[])",
      [ids, new Date(clock.startOfDay(now))],
    );
    await c.query(
      `INSERT INTO user_platform_quotas (user_id, platform, monthly_limit_usd) SELECT u, 'grok', 3 FROM unnest($1::bigint[]) u
       ON CONFLICT DO NOTHING`,
      [ids],
    );
    const n = Number((await c.query("SELECT count(*) AS n FROM users")).rows[0].n);
    const batch = Math.max(1, Math.ceil(n / 4));
    const r = refresher({ sweepBatch: batch });
    const ticks = Math.ceil(n / batch) + 1;
    expect(await stale(ids, now)).not.toEqual([]);
    for (let i = 0; i < ticks; i++) await r.tick(now);
    expect(await stale(ids, now)).toEqual([]);
    // an unchanged user's row was read, not rewritten (nor locked: xmin stays)
    expect(await version()).toBe(before);
  });

  it.skipIf(ATTACHED)(
    "usage recorded through recordUsage (standalone) is picked up by the next tick, through its change markers",
    async () => {
      const b = rt();
      const ids = await users(3);
      await b.repo.upsertForUser(ids[0], [{ platform: "openai", limits: { daily: 10, weekly: null, monthly: null } }]);
      await refreshQuotaKeys(pool, clock, ids, Date.now());
      for (const id of ids) await b.service.recordUsage({ userId: id, platform: "openai", cost: 2.5 });
      await b.service.recordUsage({ userId: ids[0], platform: "anthropic", cost: 1.25 });
      const marked = await c.query("SELECT 1 FROM user_quota_key_changes WHERE user_id = ANY($1::bigint[])", [ids]);
      expect(marked.rowCount).toBe(4);
      expect(await stale(ids, Date.now())).not.toEqual([]);
      const t = await isolatedTick(refresher(), Date.now());
      expect(t.changed).toBeGreaterThanOrEqual(3);
      expect(await stale(ids, Date.now())).toEqual([]);
      const k = await c.query("SELECT spend_day::text, cap::text FROM user_quota_keys WHERE user_id = $1", [ids[0]]);
      expect(k.rows[0]).toEqual({ spend_day: "3.7500000000", cap: "0.25000000000000000000" });
      const left = await c.query("SELECT 1 FROM user_quota_key_changes WHERE user_id = ANY($1::bigint[])", [ids]);
      expect(left.rowCount).toBe(0);
    },
  );

  it.runIf(ATTACHED)(
    "usage the gateway records (its quota rows and usage_logs) is picked up by the tick after the usage_logs reader's batch",
    async () => {
      const ids = await users(2);
      const now = Date.now();
      const g = await c.query<{ id: string }>(
        "INSERT INTO groups (name, platform, subscription_type) VALUES ($1, 'openai', 'standard') RETURNING id",
        [`${TAG}-g`],
      );
      const a = await c.query<{ id: string }>(
        "INSERT INTO accounts (name, platform, type) VALUES ($1, 'openai', 'apikey') RETURNING id",
        [`${TAG}-a`],
      );
      const k = await c.query<{ id: string; user_id: string }>(
        `INSERT INTO api_keys (user_id, key, name) SELECT id, $2 || id, 'k' FROM unnest($1::bigint[]) id RETURNING id, user_id`,
        [ids, `sk-${TAG}-`],
      );
      await c.query(
        `INSERT INTO user_platform_quotas (user_id, platform, daily_limit_usd) SELECT u, 'openai', 4 FROM unnest($1::bigint[]) u`,
        [ids],
      );
      const rollup = new UsageLogRollup({ pool, clock }, { gapWaitMs: 0 });
      await rollup.catchUp(50, now); // earlier rows of the fixture, if any
      await refreshQuotaKeys(pool, clock, ids, now);
      await c.query("DELETE FROM user_quota_key_changes");
      // The gateway: its quota increment, and its usage_logs row.
      for (const r of k.rows) {
        await c.query(
          `UPDATE user_platform_quotas SET daily_usage_usd = daily_usage_usd + 3, daily_window_start = $2
         WHERE user_id = $1 AND platform = 'openai' AND deleted_at IS NULL`,
          [r.user_id, new Date(clock.startOfDay(now))],
        );
        await c.query(
          `INSERT INTO usage_logs (user_id, api_key_id, account_id, model, total_cost, actual_cost, group_id, billing_type, created_at)
         VALUES ($1, $2, $3, 'm', 3, 3, $4, 0, now())`,
          [r.user_id, r.id, a.rows[0].id, g.rows[0].id],
        );
      }
      expect(await stale(ids, now)).not.toEqual([]);
      await rollup.catchUp(50, Date.now());
      const marked = await c.query("SELECT 1 FROM user_quota_key_changes WHERE user_id = ANY($1::bigint[])", [ids]);
      expect(marked.rowCount).toBe(2);
      const t = await isolatedTick(refresher(), now);
      expect(t.changed).toBe(2);
      expect(await stale(ids, now)).toEqual([]);
      const cap = await c.query("SELECT cap::text FROM user_quota_keys WHERE user_id = $1", [ids[0]]);
      expect(cap.rows[0].cap).toBe("0.75000000000000000000");
    },
  );

  it("two refreshers at once: while one holds its tick, the other's tick is busy and does nothing", async () => {
    const ids = await users(1);
    await c.query("INSERT INTO user_platform_quotas (user_id, platform, daily_limit_usd) VALUES ($1, 'openai', 1)", [
      ids[0],
    ]);
    await refreshQuotaKeys(pool, clock, ids, Date.now());
    await c.query("INSERT INTO user_quota_key_changes (user_id, platform) VALUES ($1, 'openai')", [ids[0]]);
    // Hold the user's key row: the first refresher's tick waits on it, inside its tick.
    const holder = await pool.connect();
    await holder.query("BEGIN");
    await holder.query("SELECT 1 FROM user_quota_keys WHERE user_id = $1 FOR UPDATE", [ids[0]]);
    const r1 = refresher();
    const r2 = refresher();
    await c.query("UPDATE user_quota_keys_state SET sweep_after = 9000000000000000000 WHERE name = 'refresher'");
    const first = r1.tick(Date.now());
    // Wait until r1 holds the advisory lock and waits for the held row (a lock it has not been granted).
    let blocked = false;
    try {
      for (let i = 0; i < 600 && !blocked; i++) {
        const w = await c.query<{ ok: boolean }>(
          `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted
                    AND objid = (hashtext('quota_console.user_quota_keys')::bigint & 4294967295)::oid)
              AND EXISTS (SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%FOR UPDATE%'
                    AND query LIKE '%user_quota_keys%') AS ok`,
        );
        blocked = w.rows[0].ok;
        if (!blocked) await new Promise((res) => setTimeout(res, 50));
      }
      expect(blocked).toBe(true);
      expect(await r2.tick(Date.now())).toEqual({ status: "busy" });
    } finally {
      await holder.query("COMMIT");
      holder.release();
    }
    expect(await first).toMatchObject({ status: "done", changed: 1 });
    expect(await r2.tick(Date.now())).toMatchObject({ status: "done" });
  });
});
