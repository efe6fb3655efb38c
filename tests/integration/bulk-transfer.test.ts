import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { DEFAULT_PLATFORMS } from "@/lib/billing/platforms";
import { QuotaClock } from "@/lib/billing/windows";
import { BulkWorker, previewBulk, startBulkJob } from "@/lib/bulk/engine";
import { exportRows, planImport, toCsv, toJson, type ImportProblem } from "@/lib/bulk/transfer";
import type { UserFilter } from "@/lib/users/list-sql";

import { createUsers, deleteUsers, rawDb } from "../support/billing";
import { makeBilling } from "../support/billing-runtime";

/**
 * Import / export of limits (issue 16): exports are ordered and exact; an import's dry run reports
 * every bad line with its reason and writes nothing; left-out platforms keep their limits.
 */
const clock = new QuotaClock("Asia/Shanghai");
const PREFIX = `xfer${process.pid}`;
let c: pg.Client;
let users: number[] = [];
let emails: string[] = [];
const mine: UserFilter = { q: PREFIX, role: "", status: "", source: "", limit: "", over80: "" };

async function setLimits(userId: number, platform: string, d: string | null, w: string | null, m: string | null) {
  await c.query(
    `INSERT INTO user_platform_quotas (user_id, platform, daily_limit_usd, weekly_limit_usd, monthly_limit_usd)
     VALUES ($1, $2, $3, $4, $5)`,
    [userId, platform, d, w, m],
  );
}

async function allRows() {
  const { rows } = await c.query(
    `SELECT user_id, platform, daily_limit_usd::text, weekly_limit_usd::text, monthly_limit_usd::text, updated_at
     FROM user_platform_quotas WHERE user_id = ANY($1::bigint[]) ORDER BY user_id, platform`,
    [users],
  );
  return rows;
}

beforeAll(async () => {
  c = await rawDb();
  users = await createUsers(c, PREFIX, 4);
  const { rows } = await c.query<{ email: string }>(
    "SELECT email FROM users WHERE id = ANY($1::bigint[]) ORDER BY id",
    [users],
  );
  emails = rows.map((r) => r.email);
  await setLimits(users[0], "anthropic", "10", null, "300.125");
  await setLimits(users[0], "openai", "0", "0", "0");
  await setLimits(users[1], "anthropic", "0.0000000001", "9999999999.5", null);
  await setLimits(users[2], "gemini", null, null, null);
});
afterAll(async () => {
  await deleteUsers(c, users);
  await c.end();
});

describe("limits export", () => {
  it("CSV: one line per current row in (user, platform) order, '' unlimited, decimals as stored; users without rows absent", async () => {
    const csv = toCsv(await exportRows(c, clock, mine));
    expect(csv).toBe(
      [
        "user_id,email,platform,daily_limit_usd,weekly_limit_usd,monthly_limit_usd",
        `${users[0]},${emails[0]},anthropic,10,,300.125`,
        `${users[0]},${emails[0]},openai,0,0,0`,
        `${users[1]},${emails[1]},anthropic,0.0000000001,9999999999.5,`,
        `${users[2]},${emails[2]},gemini,,,`,
        "",
      ].join("\n"),
    );
  });

  it("JSON: the same rows grouped per user, numbers and nulls, a format tag, no timestamp", async () => {
    const json = JSON.parse(toJson(await exportRows(c, clock, mine)));
    expect(json).toEqual({
      format: "quota-console/limits@1",
      users: [
        {
          user_id: users[0],
          email: emails[0],
          quotas: {
            anthropic: { daily: 10, weekly: null, monthly: 300.125 },
            openai: { daily: 0, weekly: 0, monthly: 0 },
          },
        },
        {
          user_id: users[1],
          email: emails[1],
          quotas: { anthropic: { daily: 1e-10, weekly: 9999999999.5, monthly: null } },
        },
        { user_id: users[2], email: emails[2], quotas: { gemini: { daily: null, weekly: null, monthly: null } } },
      ],
    });
  });
});

describe("limits import: the dry run", () => {
  it("a file with 10 good and 5 bad lines reports exactly the 5, with their reasons, and writes nothing", async () => {
    const before = await allRows();
    const [a, b, d, e] = users;
    const [ea, eb, ed, ee] = emails;
    const lines = [
      "user_id,email,platform,daily_limit_usd,weekly_limit_usd,monthly_limit_usd",
      `${a},${ea},anthropic,20,,`, // 2
      `${a},${ea},openai,1.5,2.5,3.5`, // 3
      `,${ea.toUpperCase()},gemini,,,7`, // 4: e-mail only, any case
      `${b},,anthropic,5,5,5`, // 5: id only
      `${b},${eb},openai,,,`, // 6
      `${b},${eb},gemini,0,0,0`, // 7
      `,nobody-${PREFIX}@nowhere.test,anthropic,1,,`, // 8: bad — unknown user
      `${d},${ed},anthropic,3,,`, // 9
      `${d},${ed},kiro9,1,,`, // 10: bad — unknown platform
      `${d},${ed},openai,1e3,,`, // 11: bad — not a plain number
      `${d},${ed},gemini,4,,`, // 12
      `${e},${ee},anthropic,-5,,`, // 13: bad — negative
      `${e},${ea},openai,1,,`, // 14: bad — the id and the e-mail name different users
      `${e},${ee},gemini,0.5,,`, // 15
      `${e},${ee},openai,2,,`, // 16
    ];
    const plan = await planImport(c, `${lines.join("\n")}\n`, DEFAULT_PLATFORMS);
    expect(plan.format).toBe("csv");
    expect(plan.entries).toBe(15);
    expect(plan.good).toBe(10);
    const reasons = (p: ImportProblem[]) => p.map((x) => [x.line, x.code, x.field ?? null]);
    expect(reasons(plan.problems)).toEqual([
      [8, "UNKNOWN_USER", "email"],
      [10, "UNKNOWN_PLATFORM", "platform"],
      [11, "NOT_A_NUMBER", "daily_limit_usd"],
      [13, "NEGATIVE", "daily_limit_usd"],
      [14, "ID_EMAIL_MISMATCH", "user_id"],
    ]);
    expect(await allRows()).toEqual(before); // a dry run writes nothing

    // The operation: each named user's whole map — the file's platforms over the current limits.
    const byUser = new Map(plan.operation.rows.map((r) => [r.userId, r.quotas]));
    expect([...byUser.keys()]).toEqual([a, b, d, e]);
    expect(byUser.get(a)).toMatchObject({
      anthropic: { daily: 20, weekly: null, monthly: null },
      openai: { daily: 1.5, weekly: 2.5, monthly: 3.5 },
      gemini: { daily: null, weekly: null, monthly: 7 },
    });
    // b's anthropic row was 0.0000000001 / 9999999999.5: replaced; d keeps gemini's old null row.
    expect(byUser.get(b)?.anthropic).toEqual({ daily: 5, weekly: 5, monthly: 5 });
    expect(byUser.get(d)).toMatchObject({
      anthropic: { daily: 3, weekly: null, monthly: null },
      gemini: { daily: 4, weekly: null, monthly: null },
    });
    expect(Object.keys(byUser.get(e)!)).toEqual([...DEFAULT_PLATFORMS]);
    expect(byUser.get(e)?.openai).toEqual({ daily: 2, weekly: null, monthly: null });
  });

  it("a duplicate user × platform, a bad header, a bad id and a JSON file are reported, never guessed", async () => {
    const [a] = users;
    const dup = await planImport(
      c,
      `user_id,email,platform,daily_limit_usd,weekly_limit_usd,monthly_limit_usd\n${a},,openai,1,,\n,${emails[0]},openai,2,,\nx1,,openai,1,,\n`,
      DEFAULT_PLATFORMS,
    );
    expect(dup.problems.map((p) => [p.line, p.code])).toEqual([
      [3, "DUPLICATE"],
      [4, "BAD_USER_ID"],
    ]);
    expect(dup.good).toBe(1);
    const header = await planImport(c, "id,mail,platform\n1,a@b,openai\n", DEFAULT_PLATFORMS);
    expect(header.problems.map((p) => p.code)).toEqual(["BAD_HEADER"]);
    expect(header.operation.rows).toEqual([]);
    const json = await planImport(
      c,
      JSON.stringify({
        format: "quota-console/limits@1",
        users: [
          { user_id: a, email: emails[0], quotas: { openai: { daily: 1, weekly: "2", monthly: null }, nope: {} } },
          { email: emails[1], quotas: { anthropic: { daily: 0.123456789012 } } },
        ],
      }),
      DEFAULT_PLATFORMS,
    );
    expect(json.format).toBe("json");
    expect(json.problems.map((p) => [p.path, p.code])).toEqual([
      ["users[0].quotas.openai.weekly", "NOT_A_NUMBER"],
      ["users[0].quotas.nope", "UNKNOWN_PLATFORM"],
      ["users[1].quotas.anthropic.daily", "TOO_MANY_DECIMALS"],
    ]);
    expect(json.good).toBe(0);
    expect((await planImport(c, "{not json", DEFAULT_PLATFORMS)).problems.map((p) => p.code)).toEqual(["NOT_JSON"]);
    expect(
      (await planImport(c, '{"format":"other","users":[]}', DEFAULT_PLATFORMS)).problems.map((p) => p.code),
    ).toEqual(["UNKNOWN_FORMAT"]);
  });
});

describe("limits import: apply", () => {
  const admin = { id: 1, email: "transfer-admin@example.com" };

  it("applies the good lines as one bulk job (after the dry run's fingerprint), then export → import → export is byte-identical", async () => {
    const b = makeBilling({});
    try {
      const deps = { billing: b };
      const [a, bb] = users;
      const file = [
        "user_id,email,platform,daily_limit_usd,weekly_limit_usd,monthly_limit_usd",
        `${a},${emails[0]},anthropic,12.34,,`,
        `${bb},${emails[1]},grok,0,1,2`,
        `${a},${emails[0]},martian,1,,`, // refused, never applied
        "",
      ].join("\n");
      const plan = await planImport(b.pool, file, DEFAULT_PLATFORMS);
      expect(plan.problems.map((p) => p.code)).toEqual(["UNKNOWN_PLATFORM"]);
      const preview = await previewBulk({ operation: plan.operation }, deps);
      expect(preview.usersChanged).toBe(2);
      expect(preview.cellsChanged).toBe(5); // a: anthropic daily 10 → 12.34, monthly 300.125 → unlimited; b: a new grok row, 3 cells
      // Something changes a's limits after the dry run: the same file is refused.
      await c.query("UPDATE user_platform_quotas SET weekly_limit_usd = 7 WHERE user_id = $1 AND platform = 'openai'", [
        a,
      ]);
      const stalePlan = await planImport(b.pool, file, DEFAULT_PLATFORMS);
      const stale = await startBulkJob({ operation: stalePlan.operation }, preview.fingerprint, admin, deps);
      // A whole-replace row now carries openai weekly 7, so the request itself differs: refused.
      expect(stale).toEqual({ ok: false, code: "STALE_PREVIEW" });

      const fresh = await previewBulk({ operation: stalePlan.operation }, deps);
      const started = await startBulkJob({ operation: stalePlan.operation }, fresh.fingerprint, admin, deps);
      expect(started.ok).toBe(true);
      await new BulkWorker(deps, { batchSize: 1 }).runOnce();
      const after = toCsv(await exportRows(c, clock, mine));
      expect(after).toContain(`${a},${emails[0]},anthropic,12.34,,\n`);
      expect(after).toContain(`${a},${emails[0]},openai,0,7,0\n`);
      expect(after).toContain(`${bb},${emails[1]},grok,0,1,2\n`);
      expect(after).not.toContain("martian");

      // Round trip: importing the export changes nothing, and exporting again gives the same bytes.
      for (const text of [after, toJson(await exportRows(c, clock, mine))]) {
        const again = await planImport(b.pool, text, DEFAULT_PLATFORMS);
        expect(again.problems).toEqual([]);
        expect((await previewBulk({ operation: again.operation }, deps)).usersChanged).toBe(0);
      }
      expect(toCsv(await exportRows(c, clock, mine))).toBe(after);
    } finally {
      await b.close();
    }
  });
});
