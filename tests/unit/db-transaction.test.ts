import type pg from "pg";
import { describe, expect, it } from "vitest";

import { rollback, withTransaction } from "@/lib/db/transaction";

/** A pool whose one client records its queries and how it was released. */
function fakePool(failOn?: string) {
  const queries: string[] = [];
  let released: unknown = "no";
  const client = {
    on() {},
    removeListener() {},
    async query(sql: string) {
      queries.push(sql);
      if (sql === failOn) throw new Error(`${sql} failed`);
      return { rows: [], rowCount: 0 };
    },
    release(err?: unknown) {
      released = err;
    },
  };
  const pool = { connect: async () => client as unknown as pg.PoolClient };
  return { pool, queries, released: () => released };
}

describe("withTransaction", () => {
  it("commits what the body returns", async () => {
    const f = fakePool();
    await expect(withTransaction(f.pool, async (c) => (await c.query("SELECT 1"), 7))).resolves.toBe(7);
    expect(f.queries).toEqual(["BEGIN", "SELECT 1", "COMMIT"]);
    expect(f.released()).toBe(false);
  });

  it("rolls back on rollback(value) and resolves to the value", async () => {
    const f = fakePool();
    const out = await withTransaction<{ ok: boolean }>(f.pool, async () => rollback({ ok: false }));
    expect(out).toEqual({ ok: false });
    expect(f.queries).toEqual(["BEGIN", "ROLLBACK"]);
  });

  it("rolls back and rethrows on a throw; a client whose ROLLBACK fails is destroyed", async () => {
    const f = fakePool();
    await expect(withTransaction(f.pool, () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(f.queries).toEqual(["BEGIN", "ROLLBACK"]);
    expect(f.released()).toBe(false);
    const g = fakePool("ROLLBACK");
    await expect(withTransaction(g.pool, () => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(g.released()).toBe(true);
  });
});
