import { spawn } from "node:child_process";
import type { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { rawDb } from "../support/billing";

/** `npm run simulate` end to end on the test services: its numbers must add up. */
let c: Client;
beforeAll(async () => {
  c = await rawDb();
});
afterAll(async () => {
  await c.query("DELETE FROM users WHERE email LIKE 'sim-%@simulator.invalid'");
  await c.end();
});

function simulate(
  args: string[],
): Promise<{ code: number; summary: Record<string, unknown> & { blocked: Record<string, number> } }> {
  return new Promise((resolve, reject) => {
    const child = spawn("node_modules/.bin/tsx", ["scripts/simulate.ts", "--json", ...args], { env: process.env });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("exit", (code) => {
      try {
        resolve({ code: code ?? 1, summary: JSON.parse(out.trim().split("\n").at(-1)!) });
      } catch {
        reject(new Error(`simulator output not JSON (exit ${code}):\n${out}\n${err}`));
      }
    });
  });
}

describe("gateway simulator", () => {
  it("direct mode: allowed + blocked = requests, PostgreSQL Δ = Σ recorded, daily caps bite", async () => {
    const { code, summary } = await simulate([
      "--users",
      "4",
      "--rate",
      "300",
      "--duration",
      "3",
      "--daily",
      "2",
      "--seed",
      "42",
    ]);
    expect(code).toBe(0);
    expect(summary.requests).toBe(900);
    expect((summary.allowed as number) + (summary.blockedTotal as number)).toBe(summary.requests);
    expect(summary.blocked.daily).toBeGreaterThan(0);
    expect(summary.postgresDeltaUsd).toBe(summary.recordedUsd);
    expect(summary.recordedUsd as number).toBeGreaterThan(0);
    expect(summary.lostWrites).toEqual([]);
    expect(summary.doubleCounted).toEqual([]);
    expect(summary.drift).toEqual([]);
    // Soft limit: a key overshoots its cap by at most (1 + requests in flight at an allow) × the largest cost.
    expect(summary.overCap).toEqual([]);
    expect(summary.consistent).toBe(true);
  });

  it("flusher mode: Redis + dirty set only, the in-process flusher brings PostgreSQL to the same sum", async () => {
    const { code, summary } = await simulate([
      "--users",
      "3",
      "--rate",
      "200",
      "--duration",
      "2",
      "--daily",
      "none",
      "--weekly",
      "none",
      "--monthly",
      "100000",
      "--set-limits",
      "--flusher",
      "--seed",
      "7",
    ]);
    expect(code).toBe(0);
    expect(summary.blockedTotal).toBe(0);
    expect(summary.postgresDeltaUsd).toBe(summary.recordedUsd);
    expect(summary.lostWrites).toEqual([]);
    expect(summary.drift).toEqual([]);
    expect(summary.consistent).toBe(true);
  });

  it("refuses bad arguments with a clear message", async () => {
    const r = await new Promise<{ code: number; err: string }>((resolve) => {
      const child = spawn("node_modules/.bin/tsx", ["scripts/simulate.ts", "--platforms", "openai,mistral"], {
        env: process.env,
      });
      let err = "";
      child.stderr.on("data", (d) => (err += d));
      child.on("exit", (code) => resolve({ code: code ?? 1, err }));
    });
    expect(r.code).toBe(2);
    expect(r.err).toContain('unknown platform "mistral"');
  });
});
