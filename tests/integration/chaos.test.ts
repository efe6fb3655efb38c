import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";

import { billingKeys } from "@/lib/billing/keys";
import type { RunResult } from "@/scripts/lib/chaos/run";

import { createUsers, deleteUsers, rawDb, rowText } from "../support/billing";
import { makeBilling } from "../support/billing-runtime";

/**
 * The chaos suite's short version (`npm run chaos -- --quick`): every scenario × both modes on a
 * private PostgreSQL, a subset on PGlite, each a few seconds of traffic with its real fault. It starts
 * and removes its own services (never the test database or Redis). Every run must hold all four
 * invariants: (a) PostgreSQL grew by exactly the attempted costs, (b) Redis = PostgreSQL or absent,
 * (c) no key over a cap beyond its in-flight tolerance, (d) nothing left parked.
 */
function chaos(args: string[]): Promise<{ code: number; out: string; results: RunResult[] }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "qc-chaos-test-"));
  const json = path.join(dir, "results.json");
  return new Promise((resolve, reject) => {
    const child = spawn("node_modules/.bin/tsx", ["scripts/chaos.ts", "--quick", "--json", json, ...args], {
      env: process.env,
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("exit", (code) => {
      try {
        const { results } = JSON.parse(fs.readFileSync(json, "utf8")) as { results: RunResult[] };
        resolve({ code: code ?? 1, out, results });
      } catch {
        reject(new Error(`chaos wrote no results (exit ${code}):\n${out}`));
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

describe("chaos suite (--quick)", () => {
  it("every scenario × mode × database holds the four ledger invariants", async () => {
    const { code, out, results } = await chaos([]);
    const ran = results.filter((r) => r.status === "ran");
    const breaches = results
      .filter((r) => !r.ok)
      .map(
        (r) => `${r.scenario} · ${r.mode} · ${r.db}: ${r.status === "error" ? r.reason : JSON.stringify(r.invariants)}`,
      );
    expect(breaches, out).toEqual([]);
    expect(code, out).toBe(0);
    // Both modes and both databases really ran, with traffic and the tight cap biting.
    expect(new Set(ran.map((r) => `${r.mode}/${r.db}`))).toEqual(
      new Set(["direct/postgres", "flusher/postgres", "direct/pglite", "flusher/pglite"]),
    );
    for (const r of ran) {
      expect(r.requests, `${r.scenario} · ${r.mode} · ${r.db}`).toBeGreaterThan(0);
      expect(r.postgresDeltaUsd).toBe(r.attemptedUsd);
    }
    // The n/a runs say why.
    for (const r of results.filter((x) => x.status === "n/a")) expect(r.reason).toBeTruthy();
  }, 300_000);
});

describe("a finding of the chaos suite (malformed · flusher), fixed in lib/billing/ledger.ts + repairer.ts", () => {
  it("flusher mode: a cost that meets a garbled hash is replayed into it after its repair, never erased by the next snapshot", async () => {
    const c = await rawDb();
    const [u] = await createUsers(c, "chaos-malformed", 1);
    const b = makeBilling({ config: { flusherEnabled: true } });
    const flusher = b.flusher();
    try {
      await b.repo.upsertForUser(u, [{ platform: "anthropic", limits: { daily: 1000, weekly: 1000, monthly: 1000 } }]);
      await b.service.checkUserPlatformQuotaEligibility(u, "anthropic");
      await b.service.recordUsage({ userId: u, platform: "anthropic", cost: 1 });
      await flusher.flush();
      await b.service.recordUsage({ userId: u, platform: "anthropic", cost: 0.5 }); // in Redis only
      await b.redis!.hset(billingKeys.userPlatformQuota(u, "anthropic"), "weekly_usage", "");
      // Before the fix this cost went to PostgreSQL, and the repaired hash's next snapshot (which
      // lacks it) overwrote it: PostgreSQL ended at 1.5.
      const r = await b.service.recordUsage({ userId: u, platform: "anthropic", cost: 0.25 });
      expect(r).toMatchObject({ recorded: true, cacheApplied: false, dbWritten: false, parked: "outbox" });
      for (let i = 0; i < 50 && (await rowText(c, u, "anthropic")).mu !== "1.7500000000"; i++) {
        await b.repairer.runOnce(); // repairs the hash in place; the replay waits for that, then applies
        await flusher.flush();
        await new Promise((res) => setTimeout(res, 200));
      }
      const row = await rowText(c, u, "anthropic");
      expect([row.du, row.mu]).toEqual(["1.7500000000", "1.7500000000"]);
      expect(await b.redis!.hget(billingKeys.userPlatformQuota(u, "anthropic"), "monthly_usage")).toBe("1.75");
    } finally {
      await flusher.stop();
      await b.close();
      await deleteUsers(c, [u]);
      await c.end();
    }
  });
});
