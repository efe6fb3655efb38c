/** A plain-text table: `align` has one letter per column, "l" or "r" (default: the first left, the rest right). */
export function printTable(header: string[], cells: string[][], align = "l"): void {
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) =>
    c
      .map((s, i) => ((align[i] ?? "r") === "l" ? s.padEnd(widths[i]) : s.padStart(widths[i])))
      .join("  ")
      .trimEnd();
  console.log(line(header));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const c of cells) console.log(line(c));
}

export const f1 = (n: number) => n.toFixed(1);
