import { spawnSync } from "node:child_process";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { UsageLogRollup } from "@/lib/billing/usage-log-rollup";
import { QuotaClock } from "@/lib/billing/windows";

import { createSiblingDatabase, dropDatabase, loadGatewayFixture } from "../support/gateway-fixture";
import { testEnv } from "../support/test-env";

/**
 * Attached mode's usage history (issue 15): the rollup worker reads the gateway's usage_logs by id
 * watermark into usage_rollup_hourly — on a database of the gateway's layout (the fixture), fed with
 * usage_logs rows as the gateway writes them.
 */
const TZ = "Asia/Shanghai";
const clock = new QuotaClock(TZ);
let url: string;
let db: pg.Client;
let pool: pg.Pool;
let users: number[];
const group: Record<string, number> = {};
const account: Record<string, number> = {};
let keyOf: Record<number, number>;

beforeAll(async () => {
  url = await createSiblingDatabase(testEnv().databaseUrl, "gw_hist");
  await loadGatewayFixture(url, { searchPath: true });
  const m = spawnSync(process.execPath, ["scripts/migrate.mjs", "deploy"], {
    encoding: "utf8",
    env: { ...process.env, DATABASE_URL: url, GATEWAY_DATABASE: "attached" },
  });
  expect(m.status, m.stderr).toBe(0);
  db = new pg.Client({ connectionString: url });
  await db.connect();
  pool = new pg.Pool({ connectionString: url, max: 8 });
  const u = await db.query<{ id: string }>(
    `INSERT INTO users (email, password_hash) SELECT 'h' || g || '@example.com', 'x' FROM generate_series(1, 5) g RETURNING id`,
  );
  users = u.rows.map((r) => Number(r.id));
  for (const [name, platform, type] of [
    ["g-openai", "openai", "standard"],
    ["g-anthropic", "anthropic", "standard"],
    ["g-composite", "composite", "standard"],
    ["g-sub", "gemini", "subscription"],
  ]) {
    const g = await db.query<{ id: string }>(
      "INSERT INTO groups (name, platform, subscription_type) VALUES ($1, $2, $3) RETURNING id",
      [name, platform, type],
    );
    group[name] = Number(g.rows[0].id);
  }
  for (const p of ["openai", "anthropic", "gemini", "grok"]) {
    const a = await db.query<{ id: string }>(
      "INSERT INTO accounts (name, platform, type) VALUES ($1, $1, 'apikey') RETURNING id",
      [p],
    );
    account[p] = Number(a.rows[0].id);
  }
  const k = await db.query<{ id: string; user_id: string }>(
    `INSERT INTO api_keys (user_id, key, name) SELECT id, 'sk-hist-' || id, 'k' FROM unnest($1::bigint[]) id RETURNING id, user_id`,
    [users],
  );
  keyOf = Object.fromEntries(k.rows.map((r) => [Number(r.user_id), Number(r.id)]));
});

afterAll(async () => {
  await pool?.end();
  await db?.end();
  if (url) await dropDatabase(testEnv().databaseUrl, url);
});

const GROUP_PLATFORM: Record<string, string> = { "g-openai": "openai", "g-anthropic": "anthropic", "g-sub": "gemini" };
type Log = { user: number; group: string | null; account: string; cost: string; at: number; billingType?: number };

/** Insert rows as the gateway does (one INSERT per request; ids from the sequence). */
async function insertLogs(logs: Log[]) {
  await db.query(
    `INSERT INTO usage_logs (user_id, api_key_id, account_id, model, total_cost, actual_cost, group_id, billing_type, created_at)
     SELECT r.u, r.k, r.a, 'm', r.c, r.c, r.g, r.b, to_timestamp(r.t / 1000.0)
     FROM unnest($1::bigint[], $2::bigint[], $3::bigint[], $4::numeric[], $5::bigint[], $6::smallint[], $7::float8[])
       AS r(u, k, a, c, g, b, t)`,
    [
      logs.map((l) => l.user),
      logs.map((l) => keyOf[l.user]),
      logs.map((l) => account[l.account]),
      logs.map((l) => l.cost),
      logs.map((l) => (l.group ? group[l.group] : null)),
      logs.map((l) => l.billingType ?? 0),
      logs.map((l) => l.at),
    ],
  );
}

/** What the quota charges: per user:platform:day, exactly (SQL numeric). */
async function expected(logs: Log[]): Promise<Record<string, string>> {
  const charged = logs.flatMap((l) => {
    if (!l.group || (l.billingType ?? 0) === 1 || Number(l.cost) <= 0) return [];
    const platform = l.group === "g-composite" ? l.account : GROUP_PLATFORM[l.group];
    return [{ ...l, platform }];
  });
  const { rows } = await db.query<{ k: string; s: string }>(
    `SELECT u || ':' || p || ':' || (to_timestamp(t / 1000.0) AT TIME ZONE $5)::date AS k, sum(c)::numeric(20,10)::text AS s
     FROM unnest($1::bigint[], $2::text[], $3::numeric[], $4::float8[]) AS o(u, p, c, t) GROUP BY 1`,
    [
      charged.map((l) => l.user),
      charged.map((l) => l.platform),
      charged.map((l) => l.cost),
      charged.map((l) => l.at),
      TZ,
    ],
  );
  return Object.fromEntries(rows.map((r) => [r.k, r.s]));
}

async function rollup(): Promise<Record<string, string>> {
  const { rows } = await db.query<{ k: string; s: string }>(
    `SELECT user_id || ':' || platform || ':' || (bucket_start AT TIME ZONE $1)::date AS k, sum(cost)::text AS s
     FROM usage_rollup_hourly GROUP BY 1`,
    [TZ],
  );
  return Object.fromEntries(rows.map((r) => [r.k, r.s]));
}

function randomLogs(n: number, seed: number): Log[] {
  let s = seed;
  const rnd = () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
  const groups = ["g-openai", "g-anthropic", "g-composite", "g-sub", null];
  const accounts = ["openai", "anthropic", "gemini", "grok"];
  const now = Date.now();
  return Array.from({ length: n }, () => ({
    user: users[Math.floor(rnd() * users.length)],
    group: groups[Math.floor(rnd() * groups.length)],
    account: accounts[Math.floor(rnd() * accounts.length)],
    cost: rnd() < 0.05 ? "0" : (Math.floor(rnd() * 1e10) / 1e10 + 0.0000000001).toFixed(10),
    at: now - 120_000 - Math.floor(rnd() * 5 * 86_400_000),
    billingType: rnd() < 0.2 ? 1 : 0, // subscription-mode requests are not charged to the platform quota
  }));
}

describe("usage_logs rollup worker (attached)", () => {
  const all: Log[] = [];

  it("reads every row once in bounded batches: sums per user × platform × day equal the charged costs; a replay changes nothing", async () => {
    const logs = randomLogs(1200, 7);
    await insertLogs(logs);
    all.push(...logs);
    const w = new UsageLogRollup({ pool, clock }, { batchSize: 250 });
    const r = await w.catchUp(100);
    expect(r.ids).toBe(1200);
    expect(r.batches).toBe(5); // 4 full batches of 250, and 200
    const want = await expected(all);
    expect(Object.keys(want).length).toBeGreaterThan(30);
    expect(await rollup()).toEqual(want);
    // Replay: the worker again, and a second worker — nothing left to count.
    expect(await w.catchUp(100)).toEqual({ ids: 0, batches: 1 });
    expect(await new UsageLogRollup({ pool, clock }).catchUp(100)).toEqual({ ids: 0, batches: 1 });
    expect(await rollup()).toEqual(want);
    const { rows } = await db.query("SELECT last_id::text FROM usage_rollup_watermarks WHERE name = 'usage_logs'");
    const { rows: max } = await db.query("SELECT max(id)::text AS m FROM usage_logs");
    expect(rows[0].last_id).toBe(max[0].m);
  });

  it("two workers at once (small batches, rows arriving meanwhile) never count a row twice", async () => {
    const a = new UsageLogRollup({ pool, clock }, { batchSize: 37 });
    const b = new UsageLogRollup({ pool, clock }, { batchSize: 53 });
    const more = randomLogs(900, 11);
    const feeding = (async () => {
      for (let i = 0; i < more.length; i += 100) {
        await insertLogs(more.slice(i, i + 100));
        all.push(...more.slice(i, i + 100));
        await new Promise((r) => setTimeout(r, 15));
      }
    })();
    let done = false;
    const drive = async (w: UsageLogRollup) => {
      let busy = 0;
      while (!done) {
        const r = await w.runBatch();
        if (r.status === "busy") busy++;
        else if (r.rows === 0) await new Promise((res) => setTimeout(res, 5));
      }
      return busy;
    };
    const runs = [drive(a), drive(b)];
    await feeding;
    // Let them work a moment more, stop both, then drain what is left (a catch-up that meets the
    // other's lock returns early, so only after both stopped).
    await new Promise((res) => setTimeout(res, 100));
    done = true;
    const busy = await Promise.all(runs);
    while ((await a.catchUp(100)).ids > 0);
    expect(busy[0] + busy[1]).toBeGreaterThan(0); // they did meet at the watermark
    expect(await rollup()).toEqual(await expected(all));
  });

  it("waits at a gap in the ids (an insert not committed yet) and counts the row once it commits", async () => {
    const w = new UsageLogRollup({ pool, clock }, { gapWaitMs: 60_000 });
    await w.catchUp(100);
    const held = new pg.Client({ connectionString: url });
    await held.connect();
    try {
      const now = Date.now();
      const slow: Log = { user: users[0], group: "g-openai", account: "openai", cost: "1.0000000001", at: now };
      const fast: Log = { user: users[1], group: "g-anthropic", account: "anthropic", cost: "2.5", at: now };
      // The slow insert takes its id first and commits last.
      await held.query("BEGIN");
      await held.query(
        `INSERT INTO usage_logs (user_id, api_key_id, account_id, model, total_cost, actual_cost, group_id, created_at)
         VALUES ($1, $2, $3, 'm', $4, $4, $5, now())`,
        [slow.user, keyOf[slow.user], account.openai, slow.cost, group["g-openai"]],
      );
      await insertLogs([fast]);
      const first = await w.runBatch();
      expect(first).toMatchObject({ status: "done", rows: 0, waiting: true });
      await held.query("COMMIT");
      all.push(slow, fast);
      const second = await w.runBatch();
      expect(second).toMatchObject({ status: "done", rows: 2, waiting: false });
      expect(await rollup()).toEqual(await expected(all));
    } finally {
      await held.end();
    }
  });

  it("the CLI (npm run usage-history -- rollup) reads what is new, then downsample runs", async () => {
    const logs = randomLogs(300, 23);
    await insertLogs(logs);
    all.push(...logs);
    const run = (cmd: string) =>
      spawnSync("node_modules/.bin/tsx", ["scripts/usage-history.ts", cmd], {
        encoding: "utf8",
        env: { ...process.env, DATABASE_URL: url, QUOTA_TIMEZONE: TZ },
      });
    const r = run("rollup");
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("caught up: 300 row(s)");
    expect(await rollup()).toEqual(await expected(all));
    const d = run("downsample");
    expect(d.status, d.stderr).toBe(0);
    expect(d.stdout).toMatch(/^downsampled \d+ day\(s\)/);
  });
});
