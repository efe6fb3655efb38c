import { describe, expect, it } from "vitest";

import { packQuotaCells, unpackQuotaCells, type QuotaCellsSnapshot } from "@/lib/users/quota-cells";

// The users page sends its first quota snapshot packed (no key or platform names per user); the
// browser must draw exactly the cells the poll's readable shape would give it.
describe("packQuotaCells", () => {
  const snapshot: QuotaCellsSnapshot = {
    at: "2026-12-06T12:00:00.000Z",
    cells: {
      "7": [
        { p: "anthropic", d: [9, 10], w: [0, null], m: [0, null] },
        { p: "kiro", d: [0, 0], w: [1.2345, 3], m: [0, null] },
      ],
      "12": [],
      "30": [{ p: "kiro", d: [0, null], w: [0, null], m: [120, 100] }],
    },
  };

  it("round-trips every user, platform, used amount and limit (null unlimited, 0 disabled)", () => {
    const packed = packQuotaCells(
      snapshot.at,
      Object.entries(snapshot.cells).map(([id, cells]) => [Number(id), cells]),
    );
    expect(unpackQuotaCells(packed)).toEqual(snapshot);
  });

  it("names each platform once", () => {
    const packed = packQuotaCells(
      snapshot.at,
      Object.entries(snapshot.cells).map(([id, cells]) => [Number(id), cells]),
    );
    expect(packed.platforms).toEqual(["anthropic", "kiro"]);
    expect(JSON.stringify(packed.users)).not.toContain("kiro");
  });
});
