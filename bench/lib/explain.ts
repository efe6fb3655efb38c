import type pg from "pg";

export type PlanNode = {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  Plans?: PlanNode[];
};
const nodeNames = (n: PlanNode): string[] => [
  `${n["Node Type"]}${n["Index Name"] ? ` ${n["Index Name"]}` : n["Relation Name"] ? ` ${n["Relation Name"]}` : ""}`,
  ...(n.Plans ?? []).flatMap(nodeNames),
];

/**
 * EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) of one statement: one unrecorded run, then EXPLAIN_RUNS;
 * the median's execution time and plan (its node names, deduplicated in plan order).
 */
export async function explain(pool: pg.Pool, name: string, q: { text: string; values: unknown[] }, runs = 5) {
  const once = async () => {
    const { rows } = await pool.query<{
      "QUERY PLAN": [{ Plan: PlanNode; "Execution Time": number; "Planning Time": number }];
    }>(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${q.text}`, q.values);
    const r = rows[0]["QUERY PLAN"][0];
    return { exec: r["Execution Time"], planning: r["Planning Time"], plan: r.Plan };
  };
  await once();
  const all = [];
  for (let i = 0; i < runs; i++) all.push(await once());
  const median = [...all].sort((a, b) => a.exec - b.exec)[Math.floor(all.length / 2)];
  return {
    name,
    executionMs: median.exec,
    planningMs: median.planning,
    runsMs: all.map((r) => r.exec),
    nodes: [...new Set(nodeNames(median.plan))],
    plan: median.plan,
  };
}
