import type { RunResult } from "./run";

/** The results table: scenario × mode × db → each invariant ✓/✗ with the key numbers. */
export function formatTable(results: RunResult[]): string {
  const head = [
    "scenario",
    "mode",
    "db",
    "(a)exact",
    "(b)drift",
    "(c)cap",
    "(d)quiet",
    "requests",
    "attempted $",
    "PG Δ $",
    "lost",
    "doubled",
    "drift",
    "overcap",
    "parked",
    "left",
    "s",
  ];
  const mark = (b: boolean) => (b ? "✓" : "✗");
  const rows: string[][] = results.map((r) => {
    if (r.status !== "ran")
      return [
        r.scenario,
        r.mode,
        r.db,
        r.status === "error" ? "ERROR" : r.status === "n/a" ? "n/a" : "skip",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
      ];
    const parked = Object.values(r.parked).reduce((x, y) => x + y, 0);
    const left = r.left ? Object.values(r.left).reduce((x: number, y) => x + Math.max(0, y ?? 0), 0) : 0;
    return [
      r.scenario,
      r.mode,
      r.db,
      mark(r.invariants.exact),
      mark(r.invariants.drift),
      mark(r.invariants.cap),
      mark(r.invariants.quiet),
      String(r.requests),
      r.attemptedUsd.toFixed(4),
      r.postgresDeltaUsd.toFixed(4),
      String(r.lost.length),
      String(r.doubled.length),
      String(r.drift.length),
      String(r.overCap.length),
      String(parked),
      String(left),
      r.seconds.toFixed(1),
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => [...r[i]].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  const na = results
    .filter((r) => r.status === "n/a")
    .map((r) => `  n/a ${r.scenario} · ${r.mode} · ${r.db}: ${r.reason}`);
  const skipped = results.filter((r) => r.status === "skipped");
  if (skipped.length) na.push(`  skip ${skipped.length} run(s): ${skipped[0].reason}`);
  return [
    line(head),
    line(head.map((_, i) => "─".repeat(widths[i]))),
    ...rows.map(line),
    ...(na.length ? ["", ...na] : []),
  ].join("\n");
}
