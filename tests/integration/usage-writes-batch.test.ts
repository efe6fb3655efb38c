import type { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import type { UsageWrite } from "@/lib/billing/usage-writes";
import { prng } from "@/scripts/lib/prng";

import { createUsers, deleteUsers, rawDb } from "../support/billing";
import { makeBilling } from "../support/billing-runtime";

/**
 * Group commit (lib/billing/usage-writes.ts): writes that arrive together are committed in one
 * transaction of set-based statements, a key's ops merged per quota day and week. The result must be
 * exactly what the same ops give written one by one in the order of their instants — every usage
 * column and window start, to the 10th decimal, and every history bucket — including the cases the
 * merge has arithmetic for: a monthly window that expires inside a batch, ops of other days and
 * weeks, costs below the column's 10 decimals, missing rows, a deleted user among the batch.
 */
const TZ = "Asia/Shanghai";
const PLATFORMS = ["anthropic", "openai"];
const H = 3_600_000;
const MONTH = 720 * H;
let c: Client;
const created: number[] = [];

beforeAll(async () => {
  c = await rawDb();
});
afterAll(async () => {
  await c.query("DELETE FROM usage_rollup_hourly WHERE user_id = ANY($1::bigint[])", [created]);
  await deleteUsers(c, created);
  await c.end();
});

/** Two user sets with identical starting rows: `a` written in batches, `b` one op at a time. */
async function mirroredUsers(n: number, now: number) {
  const a = await createUsers(c, "batch-a", n);
  const b = await createUsers(c, "batch-b", n);
  created.push(...a, ...b);
  for (let i = 0; i < n; i++)
    for (const [pi, platform] of PLATFORMS.entries()) {
      if ((i + pi) % 4 === 3) continue; // some keys have no row yet: the batch inserts it
      // Monthly windows anchored so that some expire in the middle of the ops' instants.
      const monthlyStart = now - MONTH + (i % 3) * 50 - 100;
      for (const u of [a[i], b[i]])
        await c.query(
          `INSERT INTO user_platform_quotas (user_id, platform, daily_limit_usd, daily_usage_usd, weekly_usage_usd, monthly_usage_usd,
             daily_window_start, weekly_window_start, monthly_window_start, created_at, updated_at)
           VALUES ($1, $2, 1000000, 1.5, 2.25, 3.125, $3, $4, $5, now(), now())`,
          [u, platform, new Date(now - 30 * H), new Date(now - 200 * H), new Date(monthlyStart)],
        );
    }
  return { a, b };
}

async function rows(users: number[]) {
  const { rows } = await c.query<Record<string, string>>(
    `SELECT user_id::text, platform, daily_usage_usd::text AS du, weekly_usage_usd::text AS wu, monthly_usage_usd::text AS mu,
            extract(epoch FROM daily_window_start)::text AS ds, extract(epoch FROM weekly_window_start)::text AS ws,
            extract(epoch FROM monthly_window_start)::text AS ms
     FROM user_platform_quotas q WHERE q.user_id = ANY($1::bigint[]) AND q.deleted_at IS NULL ORDER BY q.user_id, q.platform`,
    [users],
  );
  return rows;
}

async function buckets(users: number[]) {
  const { rows } = await c.query<Record<string, string>>(
    `SELECT user_id::text, platform, extract(epoch FROM bucket_start)::text AS b, cost::text, requests::text
     FROM usage_rollup_hourly h WHERE h.user_id = ANY($1::bigint[]) ORDER BY h.user_id, h.platform, h.bucket_start`,
    [users],
  );
  return rows;
}

/** `a`'s rows renamed to `b`'s users, for comparing the two sets. */
const renamed = (list: Array<Record<string, string>>, a: number[], b: number[]): Array<Record<string, string>> =>
  list.map((r) => ({ ...r, user_id: String(b[a.indexOf(Number(r.user_id))]) }));

describe("group commit of usage writes", () => {
  it("a batch gives exactly the rows and buckets of the same ops written one by one in instant order", async () => {
    const billing = makeBilling({ timeZone: TZ, redisUrl: null });
    try {
      const now = Date.now();
      const n = 6;
      const { a, b } = await mirroredUsers(n, now);
      const random = prng(7);
      const ops: Array<{ i: number; platform: string; cost: number; at: number }> = [];
      for (let k = 0; k < 300; k++) {
        const kind = random();
        // Mostly "now" (± a few ms, many sharing a millisecond), some hours, days and weeks back, some
        // past the monthly anchor — so a key's ops fall in one group, several groups, several layers.
        const at =
          kind < 0.5
            ? now + Math.floor(random() * 400) - 200
            : kind < 0.7
              ? now - Math.floor(random() * 30) * H
              : kind < 0.9
                ? now - Math.floor(random() * 10 * 24) * H
                : now - Math.floor(random() * 40 * 24) * H;
        const cost =
          random() < 0.15 ? 4e-11 : Math.round(random() * 1e12) / 1e12 + (random() < 0.2 ? 5e-11 : 0) + 1e-12;
        ops.push({ i: Math.floor(random() * n), platform: PLATFORMS[Math.floor(random() * 2)], cost, at });
      }
      const write =
        (users: number[]) =>
        (o: (typeof ops)[number]): UsageWrite => ({
          userId: users[o.i],
          platform: o.platform,
          cost: o.cost,
          at: o.at,
        });

      const chunks: Array<typeof ops> = [];
      for (let k = 0; k < ops.length;) {
        const size = 1 + Math.floor(random() * 60);
        chunks.push(ops.slice(k, k + size));
        k += size;
      }
      // a: each chunk in one transaction (the repairer's many-write: the group commit's SQL)
      for (const chunk of chunks) {
        const w = await billing.repo.incrementManyExactlyOnce(chunk.map(write(a)));
        expect(w.status).toBe("committed");
      }
      // b: one op at a time (the single write's own statements), a chunk's ops in instant order per key
      for (const chunk of chunks) {
        const ordered = [...chunk].sort((x, y) => x.at - y.at);
        for (const o of ordered) await billing.repo.incrementUsageWithReset(b[o.i], o.platform, o.cost, o.at);
      }
      const rowsA = await rows(a);
      expect(rowsA.length).toBe(n * PLATFORMS.length); // the missing rows were inserted
      const rowsB = await rows(b);
      const diff = renamed(rowsA, a, b).flatMap((r, k) =>
        Object.keys(r)
          .filter((f) => r[f] !== rowsB[k][f])
          .map((f) => `${k} ${r.platform} ${f}: batch ${r[f]} single ${rowsB[k][f]}`),
      );
      expect(diff).toEqual([]);
      expect(renamed(rowsA, a, b)).toEqual(rowsB);
      expect(renamed(await buckets(a), a, b)).toEqual(await buckets(b));
      // the cases the merge has arithmetic for did occur: a monthly window restarted by the ops
      expect(rowsA.some((r) => Number(r.ms) * 1000 > now - MONTH)).toBe(true);
    } finally {
      await billing.close();
    }
  });

  it("concurrent writes share transactions; each is committed once, and a deleted user's op is refused alone", async () => {
    const billing = makeBilling({ timeZone: TZ, redisUrl: null });
    try {
      const users = await createUsers(c, "batch-c", 4);
      created.push(...users);
      const [gone] = await createUsers(c, "batch-gone", 1);
      await deleteUsers(c, [gone]); // its ops violate the foreign key: "rejected"
      const random = prng(11);
      const now = Date.now();
      const ops = Array.from({ length: 2000 }, (_, k) => ({
        userId: k === 700 ? gone : users[Math.floor(random() * users.length)],
        platform: PLATFORMS[Math.floor(random() * 2)],
        cost: Math.round(random() * 1e12) / 1e12 + 1e-12,
        at: now,
      }));
      const results = await Promise.all(ops.map((o) => billing.repo.incrementExactlyOnce(o)));
      expect(results[700].status).toBe("rejected");
      const committed = results.filter((r) => r.status === "committed");
      expect(committed.length).toBe(ops.length - 1);
      // fewer transactions than writes: the group commit did combine them
      const tokens = new Set(committed.map((r) => (r.status === "committed" ? r.commit : "")));
      expect(tokens.size).toBeLessThan(ops.length / 4);

      const { rows: sums } = await c.query<{ k: string; s: string }>(
        `SELECT u || ':' || p AS k, sum(round(x, 10))::numeric(20,10)::text AS s
         FROM unnest($1::bigint[], $2::text[], $3::numeric[]) AS o(u, p, x) WHERE u <> $4 GROUP BY 1 ORDER BY 1`,
        [ops.map((o) => o.userId), ops.map((o) => o.platform), ops.map((o) => String(o.cost)), gone],
      );
      const { rows: stored } = await c.query<{ k: string; s: string }>(
        `SELECT user_id || ':' || platform AS k, daily_usage_usd::text AS s FROM user_platform_quotas
         WHERE user_id = ANY($1::bigint[]) AND deleted_at IS NULL ORDER BY 1`,
        [users],
      );
      expect(stored).toEqual(sums);
      const { rows: req } = await c.query<{ n: string }>(
        "SELECT sum(requests)::text AS n FROM usage_rollup_hourly WHERE user_id = ANY($1::bigint[])",
        [users],
      );
      expect(Number(req[0].n)).toBe(ops.length - 1);
    } finally {
      await billing.close();
    }
  });
});
