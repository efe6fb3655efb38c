import type { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { getUsageOverview, getUserUsageHistory, parseHistoryQuery } from "@/lib/quota/history";

import { createUsers, deleteUsers, rawDb } from "../support/billing";
import { makeBilling } from "../support/billing-runtime";

/** The usage-history API's reads (issue 15): query parsing, own-user values with limits, the overview. */
let c: Client;
let b: ReturnType<typeof makeBilling>;
let users: number[] = [];
const NOW = Date.parse("2026-12-03T10:00:00+08:00");
const deps = () => ({ billing: b, now: NOW });

beforeAll(async () => {
  c = await rawDb();
  b = makeBilling({ timeZone: "Asia/Shanghai" });
  users = await createUsers(c, "hist-api", 2);
  await b.repo.upsertForUser(users[0], [
    { platform: "anthropic", limits: { daily: 5, weekly: 20, monthly: null } },
    { platform: "openai", limits: { daily: null, weekly: null, monthly: 100 } },
  ]);
  await b.repo.upsertForUser(users[1], [{ platform: "anthropic", limits: { daily: 1, weekly: null, monthly: null } }]);
  const day = 86_400_000;
  await b.repo.incrementUsageWithReset(users[0], "anthropic", 1.25, NOW - 2 * day);
  await b.repo.incrementUsageWithReset(users[0], "anthropic", 0.0000000001, NOW - 2 * day);
  await b.repo.incrementUsageWithReset(users[0], "openai", 3, NOW);
  await b.repo.incrementUsageWithReset(users[1], "anthropic", 7, NOW);
});
afterAll(async () => {
  await c.query("DELETE FROM usage_rollup_hourly WHERE user_id = ANY($1::bigint[])", [users]);
  await deleteUsers(c, users);
  await b.close();
  await c.end();
});

const q = (s: string) => parseHistoryQuery(new URL(`http://x/api/v1/user/usage-history${s}`), deps());

describe("usage history API reads", () => {
  it("parses days (1..366, default 30) and platform (the registry's), with the error codes", async () => {
    expect(await q("")).toEqual({ ok: true, query: { days: 30, platform: null } });
    expect(await q("?days=7&platform=openai")).toEqual({ ok: true, query: { days: 7, platform: "openai" } });
    for (const bad of ["0", "367", "-1", "1.5", "abc", "", "1e2"])
      expect(await q(`?days=${bad}`), bad).toEqual({ ok: false, reason: "INVALID_DAYS" });
    expect(await q("?platform=mistral")).toEqual({ ok: false, reason: "INVALID_PLATFORM" });
  });

  it("one user's days × platforms, exact to 10 decimals, with the current limits and the day list", async () => {
    const h = await getUserUsageHistory(users[0], { days: 3, platform: null }, deps());
    expect(h.time_zone).toBe("Asia/Shanghai");
    expect(h.days).toEqual(["2026-12-01", "2026-12-02", "2026-12-03"]);
    expect(h.usage).toEqual([
      { day: "2026-12-01", platform: "anthropic", cost: "1.2500000001", requests: 2 },
      { day: "2026-12-03", platform: "openai", cost: "3.0000000000", requests: 1 },
    ]);
    expect(h.limits).toEqual([
      { platform: "anthropic", daily: 5, weekly: 20, monthly: null },
      { platform: "openai", daily: null, weekly: null, monthly: 100 },
    ]);
    const only = await getUserUsageHistory(users[0], { days: 30, platform: "anthropic" }, deps());
    expect(only.days).toHaveLength(30);
    expect(only.usage.map((u) => u.platform)).toEqual(["anthropic"]);
    expect(only.limits.map((l) => l.platform)).toEqual(["anthropic"]);
  });

  it("the overview counts every user per day × platform", async () => {
    const o = await getUsageOverview({ days: 1, platform: "anthropic" }, deps());
    const today = o.usage.find((u) => u.day === "2026-12-03" && u.platform === "anthropic");
    expect(Number(today?.cost)).toBeGreaterThanOrEqual(7);
    expect(today?.users).toBeGreaterThanOrEqual(1);
    expect(o.usage.every((u) => u.platform === "anthropic")).toBe(true);
    expect(o.today_as_of).toBeNull(); // no snapshot (the workers are off here): today is live
  });
});
