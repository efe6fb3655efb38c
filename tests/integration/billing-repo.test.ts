import pg, { type Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { DEFAULT_PLATFORMS } from "@/lib/billing/platforms";
import {
  QuotaFkViolationError,
  QuotaNotFoundError,
  QuotaRepository,
  SNAPSHOT_CHUNK_ROWS,
} from "@/lib/billing/quota-repo";
import { markerTime, newMarker } from "@/lib/billing/usage-writes";
import { QuotaClock } from "@/lib/billing/windows";
import { PostgresCluster } from "@/scripts/lib/faults";
import { migrateDatabase as migrate } from "@/scripts/lib/throwaway-services";

import { createUsers, deleteUsers, rawDb, rowText } from "../support/billing";
import { testEnv } from "../support/test-env";

/** The repository against real PostgreSQL: spec §1.3 and the cases of spec §9 that pin it. */
let c: Client;
let pool: pg.Pool;
let repo: QuotaRepository;
const clock = new QuotaClock("Asia/Shanghai");
const users: number[] = [];
const t = (iso: string) => Date.parse(iso);
const L = (daily: number | null, weekly: number | null = null, monthly: number | null = null) => ({
  daily,
  weekly,
  monthly,
});

async function user(): Promise<number> {
  const [id] = await createUsers(c, "repo", 1);
  users.push(id);
  return id;
}

beforeAll(async () => {
  c = await rawDb();
  pool = new pg.Pool({ connectionString: testEnv().databaseUrl, max: 20 });
  repo = new QuotaRepository(pool, clock);
});
afterAll(async () => {
  await deleteUsers(c, users);
  await c.end();
  await pool.end();
});

describe("bulkInsertInitial (sign-up snapshot)", () => {
  it("inserts every registry platform; a second call keeps existing non-null limits (COALESCE)", async () => {
    const u = await user();
    expect(await repo.getByUserPlatform(u, "anthropic")).toBeNull();
    await repo.bulkInsertInitial(
      DEFAULT_PLATFORMS.map((p) => ({ userId: u, platform: p, limits: p === "anthropic" ? L(5) : L(null) })),
    );
    await repo.bulkInsertInitial([
      { userId: u, platform: "anthropic", limits: L(99, 7) },
      { userId: u, platform: "openai", limits: L(3) },
    ]);
    const rows = await repo.listByUser(u);
    expect(rows.map((r) => r.platform)).toEqual([...DEFAULT_PLATFORMS]);
    expect(rows.find((r) => r.platform === "anthropic")).toMatchObject({
      dailyLimit: 5,
      weeklyLimit: 7,
      dailyUsage: 0,
      dailyWindowStart: null,
    });
    expect(rows.find((r) => r.platform === "openai")!.dailyLimit).toBe(3);
    expect(await rowText(c, u, "deepseek")).toMatchObject({ dl: null, wl: null, ml: null, du: "0.0000000000" });
  });

  it("is a no-op for an empty list; refuses NaN and negatives instead of storing 'NaN'", async () => {
    await repo.bulkInsertInitial([]);
    const u = await user();
    await expect(repo.bulkInsertInitial([{ userId: u, platform: "openai", limits: L(NaN) }])).rejects.toThrow(/finite/);
    await expect(repo.bulkInsertInitial([{ userId: u, platform: "openai", limits: L(-1) }])).rejects.toThrow(/>= 0/);
    expect(await repo.listByUser(u)).toEqual([]);
  });
});

describe("incrementUsageWithReset", () => {
  it("creates the row on the first call, then accumulates in the same window (1.5 + 0.5 = 2)", async () => {
    const u = await user();
    const now = t("2026-11-25T10:00:00+08:00"); // Wednesday
    await repo.incrementUsageWithReset(u, "openai", 1.5, now);
    await repo.incrementUsageWithReset(u, "openai", 0.5, now + 60_000);
    const row = await rowText(c, u, "openai");
    expect(row).toMatchObject({ dl: null, du: "2.0000000000", wu: "2.0000000000", mu: "2.0000000000" });
    expect(row.ds.getTime()).toBe(t("2026-11-25T00:00:00+08:00"));
    expect(row.ws.getTime()).toBe(t("2026-11-23T00:00:00+08:00"));
    expect(row.ms.getTime()).toBe(now);
  });

  it("next day same week: daily resets; Friday → Monday: daily and weekly reset; 30 d: monthly resets", async () => {
    const u = await user();
    const wed = t("2026-11-25T10:00:00+08:00");
    await repo.incrementUsageWithReset(u, "gemini", 2, wed);
    await repo.incrementUsageWithReset(u, "gemini", 1, t("2026-11-26T09:00:00+08:00"));
    expect(await rowText(c, u, "gemini")).toMatchObject({ du: "1.0000000000", wu: "3.0000000000", mu: "3.0000000000" });
    await repo.incrementUsageWithReset(u, "gemini", 4, t("2026-11-27T23:00:00+08:00")); // Friday
    await repo.incrementUsageWithReset(u, "gemini", 2, t("2026-11-30T00:30:00+08:00")); // Monday
    expect(await rowText(c, u, "gemini")).toMatchObject({ du: "2.0000000000", wu: "2.0000000000", mu: "9.0000000000" });
    await repo.incrementUsageWithReset(u, "gemini", 0.25, wed + 30 * 86400_000 - 1); // 30 d − 1 ms: still the same month
    expect((await rowText(c, u, "gemini")).mu).toBe("9.2500000000");
    await repo.incrementUsageWithReset(u, "gemini", 0.75, wed + 30 * 86400_000); // exactly 30 d: new month from now
    const row = await rowText(c, u, "gemini");
    expect(row.mu).toBe("0.7500000000");
    expect(row.ms.getTime()).toBe(wed + 30 * 86400_000);
  });

  it("treats a daily start that is not exactly midnight as expired (gateway's equality rule)", async () => {
    const u = await user();
    await repo.bulkInsertInitial([{ userId: u, platform: "grok", limits: L(10) }]);
    const now = t("2026-11-25T10:00:00+08:00");
    await c.query(
      "UPDATE user_platform_quotas SET daily_usage_usd = 5, daily_window_start = $3 WHERE user_id = $1 AND platform = $2",
      [u, "grok", new Date(t("2026-11-25T09:00:00+08:00"))],
    );
    await repo.incrementUsageWithReset(u, "grok", 1, now);
    expect(await rowText(c, u, "grok")).toMatchObject({ dl: "10.0000000000", du: "1.0000000000" });
  });

  it("keeps limits and ignores soft-deleted rows", async () => {
    const u = await user();
    await repo.upsertForUser(u, [{ platform: "kimi", limits: L(1, 2, 3) }]);
    await repo.incrementUsageWithReset(u, "kimi", 0.5, Date.now());
    expect(await rowText(c, u, "kimi")).toMatchObject({
      dl: "1.0000000000",
      wl: "2.0000000000",
      ml: "3.0000000000",
      du: "0.5000000000",
    });
  });
});

describe("incrementExactlyOnce (every usage write)", () => {
  it("commits in two round trips with its marker; the marker of an acknowledged write is deleted", async () => {
    const u = await user();
    const w = await repo.incrementExactlyOnce({ userId: u, platform: "openai", cost: 0.25, at: Date.now() });
    expect(w.status).toBe("committed");
    const token = (w as { commit: string }).commit;
    expect(await repo.commitStatus(token)).toBe("committed");
    expect((await rowText(c, u, "openai")).du).toBe("0.2500000000");
    await repo.flushReleasedMarkers(); // no token was handed out: no one will ask, the marker goes
    expect((await c.query("SELECT 1 FROM billing_commit_markers WHERE id = $1", [token.slice(2)])).rowCount).toBe(0);
  });

  it("commitStatus: a write whose token was handed out keeps its marker; one that never committed is 'not committed'", async () => {
    const u = await user();
    let handed = "";
    const ok = await repo.incrementExactlyOnce({
      userId: u,
      platform: "zhipu",
      cost: 1,
      at: Date.now(),
      beforeCommit: async (tk) => void (handed = tk),
    });
    expect(ok.status).toBe("committed");
    await repo.flushReleasedMarkers();
    expect(await repo.commitStatus(handed)).toBe("committed");
    let lost = "";
    const failed = await repo.incrementExactlyOnce({
      userId: u,
      platform: "zhipu",
      cost: 2,
      at: Date.now(),
      beforeCommit: async (tk) => {
        lost = tk;
        throw new Error("journal unavailable"); // COMMIT never sent
      },
    });
    expect(failed.status).toBe("failed");
    expect(await repo.commitStatus(lost)).toBe("not committed");
    expect((await rowText(c, u, "zhipu")).mu).toBe("1.0000000000");
  });

  it("commitStatus waits for a write still in progress and reports how it ended", async () => {
    const u = await user();
    let probe: Promise<string> | null = null;
    const w = await repo.incrementExactlyOnce({
      userId: u,
      platform: "grok",
      cost: 3,
      at: Date.now(),
      beforeCommit: async (tk) => {
        probe = repo.commitStatus(tk);
        await new Promise((res) => setTimeout(res, 300)); // the probe meets the open transaction
      },
    });
    expect(w.status).toBe("committed");
    // Not waiting would have found no committed marker and said "not committed".
    expect(await probe).toBe("committed");
  });

  it("a marker token older than the trust horizon is 'unknowable'; a malformed token throws", async () => {
    expect(await repo.commitStatus(`m:${newMarker(Date.now() - 31 * 86_400_000)}`)).toBe("unknowable");
    expect(markerTime(`m:${newMarker(1_700_000_000_123)}`)).toBe(1_700_000_000_123);
    await expect(repo.commitStatus("12345")).rejects.toThrow(/not a commit token/);
  });

  it("commits its outbox row in the same transaction, and consumes a given outbox row at most once", async () => {
    const u = await user();
    const key = `billing:user_platform_quota:${u}:gemini`;
    await repo.incrementExactlyOnce({
      userId: u,
      platform: "gemini",
      cost: 1,
      at: Date.now(),
      outbox: { cacheKey: key, kind: "cancel", payload: { x: 1 } },
    });
    const { rows } = await c.query<{ id: string; kind: string }>(
      "SELECT id, kind FROM cache_invalidation_outbox WHERE cache_key = $1",
      [key],
    );
    expect(rows.map((r) => r.kind)).toEqual(["cancel"]);
    const id = Number(rows[0].id);
    expect(
      (await repo.incrementExactlyOnce({ userId: u, platform: "gemini", cost: 2, at: Date.now(), consumeOutboxId: id }))
        .status,
    ).toBe("committed");
    expect(
      (await repo.incrementExactlyOnce({ userId: u, platform: "gemini", cost: 2, at: Date.now(), consumeOutboxId: id }))
        .status,
    ).toBe("skipped");
    expect((await rowText(c, u, "gemini")).mu).toBe("3.0000000000"); // 1 + 2, the second 2 refused
  });

  it("a failure before COMMIT leaves nothing behind; a failing beforeCommit hook aborts", async () => {
    const u = await user();
    const w = await repo.incrementExactlyOnce({
      userId: u,
      platform: "kimi",
      cost: 1,
      at: Date.now(),
      beforeCommit: async () => {
        throw new Error("journal unavailable");
      },
    });
    expect(w.status).toBe("failed");
    expect(await rowText(c, u, "kimi")).toBeNull();
    await expect(
      repo.incrementExactlyOnce({ userId: u, platform: "bad'name", cost: 1, at: Date.now() }),
    ).rejects.toThrow(/invalid platform/);
  });

  it("an op written late (a retry after midnight) never moves today's daily window back", async () => {
    const u = await user();
    const today = t("2026-11-26T00:30:00+08:00");
    await repo.incrementUsageWithReset(u, "deepseek", 2, today);
    // Recorded yesterday 23:59, written now: it belongs to yesterday's day (closed) but still to this week and month.
    await repo.incrementUsageWithReset(u, "deepseek", 1, t("2026-11-25T23:59:00+08:00"));
    const row = await rowText(c, u, "deepseek");
    expect(row).toMatchObject({ du: "2.0000000000", wu: "3.0000000000", mu: "3.0000000000" });
    expect(row.ds.getTime()).toBe(t("2026-11-26T00:00:00+08:00"));
  });
});

describe("resetWindow", () => {
  it("zeroes one window with the given start and leaves the others", async () => {
    const u = await user();
    const now = t("2026-11-25T10:00:00+08:00");
    await repo.incrementUsageWithReset(u, "openai", 3, now);
    const newStart = clock.currentWindowStart("daily", now);
    await repo.resetWindow(u, "openai", "daily", newStart);
    const row = await rowText(c, u, "openai");
    expect(row).toMatchObject({ du: "0.0000000000", wu: "3.0000000000", mu: "3.0000000000" });
    expect(row.ds.getTime()).toBe(newStart);
    // The calendar-anchored start keeps the equality rule happy: the next increment accumulates.
    await repo.incrementUsageWithReset(u, "openai", 1, now + 1000);
    expect(await rowText(c, u, "openai")).toMatchObject({ du: "1.0000000000", wu: "4.0000000000" });
  });

  it("an unknown window is an error; a missing row is QuotaNotFoundError", async () => {
    const u = await user();
    await expect(repo.resetWindow(u, "openai", "yearly" as never, Date.now())).rejects.toThrow(/invalid window/);
    await expect(repo.resetWindow(u, "openai", "daily", Date.now())).rejects.toBeInstanceOf(QuotaNotFoundError);
  });
});

describe("upsertForUser (whole replace)", () => {
  it("inserts, soft-deletes what is not listed, keeps usage and windows when a limit changes", async () => {
    const u = await user();
    await repo.upsertForUser(u, [
      { platform: "anthropic", limits: L(10) },
      { platform: "openai", limits: L(5) },
      { platform: "gemini", limits: L(null, null, 100) },
    ]);
    expect((await repo.listByUser(u)).map((r) => r.platform)).toEqual(["anthropic", "openai", "gemini"]);
    const now = Date.now();
    await repo.incrementUsageWithReset(u, "anthropic", 3.5, now);
    const before = await rowText(c, u, "anthropic");
    await repo.upsertForUser(u, [
      { platform: "anthropic", limits: L(20) },
      { platform: "gemini", limits: L(null, null, 100) },
    ]);
    expect((await repo.listByUser(u)).map((r) => r.platform)).toEqual(["anthropic", "gemini"]);
    const after = await rowText(c, u, "anthropic");
    expect(after).toMatchObject({ dl: "20.0000000000", du: "3.5000000000" });
    expect(after.ds.getTime()).toBe(before.ds.getTime());
    const deleted = await c.query(
      "SELECT count(*)::int AS n FROM user_platform_quotas WHERE user_id = $1 AND platform = 'openai' AND deleted_at IS NOT NULL",
      [u],
    );
    expect(deleted.rows[0].n).toBe(1);
  });

  it("an empty list soft-deletes everything; a later upsert creates exactly one fresh active row", async () => {
    const u = await user();
    await repo.upsertForUser(u, [{ platform: "openai", limits: L(5) }]);
    await repo.incrementUsageWithReset(u, "openai", 2, Date.now());
    await repo.upsertForUser(u, []);
    expect(await repo.listByUser(u)).toEqual([]);
    await repo.upsertForUser(u, [{ platform: "openai", limits: L(7) }]);
    const rows = await repo.listByUser(u);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ dailyLimit: 7, dailyUsage: 0 }); // re-activation is a new row
  });

  it("rolls back as a whole on a bad record", async () => {
    const u = await user();
    await repo.upsertForUser(u, [{ platform: "openai", limits: L(5) }]);
    await expect(repo.upsertForUser(u, [{ platform: "not-a-platform", limits: L(1) }])).rejects.toMatchObject({
      code: "23514",
    });
    expect((await repo.listByUser(u)).map((r) => r.platform)).toEqual(["openai"]);
  });
});

describe("batchSnapshotUsage (flusher write)", () => {
  it("overwrites absolute usage and windows for several users, never limits; new rows get NULL limits", async () => {
    const [a, b] = [await user(), await user()];
    await repo.upsertForUser(a, [{ platform: "openai", limits: L(50) }]);
    await repo.incrementUsageWithReset(a, "openai", 1, Date.now());
    const ds = t("2026-11-25T00:00:00+08:00");
    const snap = (userId: number) => ({
      userId,
      platform: "openai",
      dailyUsage: 9.9,
      weeklyUsage: 19.9,
      monthlyUsage: 29.9,
      dailyWindowStart: ds,
      weeklyWindowStart: t("2026-11-23T00:00:00+08:00"),
      monthlyWindowStart: t("2026-11-01T03:04:05Z"),
    });
    await repo.batchSnapshotUsage([snap(a), snap(b)], Date.now());
    expect(await rowText(c, a, "openai")).toMatchObject({
      dl: "50.0000000000",
      du: "9.9000000000",
      wu: "19.9000000000",
      mu: "29.9000000000",
    });
    const rb = await rowText(c, b, "openai");
    expect(rb).toMatchObject({ dl: null, du: "9.9000000000" });
    expect(rb.ds.getTime()).toBe(ds);
  });

  it("writes more than one chunk of 6000 rows", async () => {
    const ids = await createUsers(c, "chunk", Math.ceil((SNAPSHOT_CHUNK_ROWS + 10) / DEFAULT_PLATFORMS.length));
    users.push(...ids);
    const snaps = ids.flatMap((userId) =>
      DEFAULT_PLATFORMS.map((platform) => ({
        userId,
        platform,
        dailyUsage: 1,
        weeklyUsage: 2,
        monthlyUsage: 3,
        dailyWindowStart: 0,
        weeklyWindowStart: 0,
        monthlyWindowStart: 0,
      })),
    );
    expect(snaps.length).toBeGreaterThan(SNAPSHOT_CHUNK_ROWS);
    await repo.batchSnapshotUsage(snaps, Date.now());
    const n = await c.query(
      "SELECT count(*)::int AS n FROM user_platform_quotas WHERE user_id = ANY($1::bigint[]) AND monthly_usage_usd = 3",
      [ids],
    );
    expect(n.rows[0].n).toBe(snaps.length);
  });

  it("a deleted user makes the chunk fail with QuotaFkViolationError", async () => {
    const snap = {
      userId: 2_000_000_000,
      platform: "openai",
      dailyUsage: 1,
      weeklyUsage: 1,
      monthlyUsage: 1,
      dailyWindowStart: 0,
      weeklyWindowStart: 0,
      monthlyWindowStart: 0,
    };
    await expect(repo.batchSnapshotUsage([snap], Date.now())).rejects.toBeInstanceOf(QuotaFkViolationError);
  });
});

describe("commit markers across a PostgreSQL crash (chaos finding: txid reuse)", () => {
  // txid_status cannot answer "did it commit?" across a crash: a transaction whose WAL had not been
  // flushed leaves no trace, and its txid is handed out again after recovery (scripts/lib/chaos/
  // repro-txid-reuse.ts shows txid_status then saying "committed" for the lost write). The marker is
  // committed with the write or not at all, so the probe's answer survives the crash.
  let cluster: PostgresCluster;
  let cpool: pg.Pool;
  let crepo: QuotaRepository;
  let cu: number;
  beforeAll(async () => {
    cluster = await PostgresCluster.start({ fsync: true });
    const url = await cluster.createDatabase("markers");
    await migrate(url);
    cpool = new pg.Pool({ connectionString: url, max: 4 });
    cpool.on("error", () => {});
    crepo = new QuotaRepository(cpool, clock);
    const cc = new pg.Client({ connectionString: url });
    await cc.connect();
    [cu] = await createUsers(cc, "crash", 1);
    await cc.end();
  }, 120_000);
  afterAll(async () => {
    await cpool?.end().catch(() => {});
    await cluster?.cleanup();
  });

  const usage = async () =>
    (
      await cpool.query<{ m: string }>(
        "SELECT monthly_usage_usd::text AS m FROM user_platform_quotas WHERE user_id = $1 AND platform = 'openai'",
        [cu],
      )
    ).rows[0]?.m ?? null;

  it("a write open when the server crashes is 'not committed' after recovery, also once its txid is handed out again; its retry counts once", async () => {
    await crepo.incrementUsageWithReset(cu, "openai", 1, Date.now());
    let token = "";
    const w = await crepo.incrementExactlyOnce({
      userId: cu,
      platform: "openai",
      cost: 0.25,
      at: Date.now(),
      beforeCommit: async (tk) => {
        token = tk;
        await cluster.restart({ mode: "immediate" }); // crash + recovery before COMMIT is sent
      },
    });
    expect(w.status).toBe("uncertain");
    // Other work takes the next txids (the lost one among them, when its WAL never reached disk).
    for (let i = 0; i < 10; i++) await crepo.incrementUsageWithReset(cu, "kimi", 0.01, Date.now());
    expect(await crepo.commitStatus(token)).toBe("not committed");
    expect(await usage()).toBe("1.0000000000");
    expect(
      (await crepo.incrementExactlyOnce({ userId: cu, platform: "openai", cost: 0.25, at: Date.now() })).status,
    ).toBe("committed");
    expect(await usage()).toBe("1.2500000000");
  }, 60_000);

  it("an acknowledged write is 'committed' after a crash right after its COMMIT", async () => {
    let token = "";
    const w = await crepo.incrementExactlyOnce({
      userId: cu,
      platform: "openai",
      cost: 0.5,
      at: Date.now(),
      beforeCommit: async (tk) => void (token = tk),
    });
    expect(w.status).toBe("committed");
    await cluster.restart({ mode: "immediate" });
    expect(await crepo.commitStatus(token)).toBe("committed");
    expect(await usage()).toBe("1.7500000000");
  }, 60_000);
});
