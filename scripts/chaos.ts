// npm run chaos -- [options]   The chaos suite of the usage ledger (lib/billing/ledger.ts): gateway
// traffic through the real billing chain while real faults are injected — Redis paused or killed,
// PostgreSQL refusing, hung, cut, restarted or paused, flushers killed or doubled, admin changes,
// evictions and malformed bytes — then quiesce and check, per run, that (a) PostgreSQL grew by exactly
// the attempted costs (to the 10th decimal, per key), (b) Redis equals PostgreSQL or is absent, (c) no
// key went over a cap by more than its in-flight tolerance, (d) no parked work is left. Scenarios ×
// modes (direct, flusher) × databases (PostgreSQL, PGlite). Exits 1 on any breach.
//
//   --quick                 a few seconds per scenario; on PGlite only a subset unless --only/--db ask
//                           (npm test runs this: tests/integration/chaos.test.ts)
//   --only a,b              only these scenarios (names: see --list)
//   --mode direct|flusher   only this mode
//   --db postgres|pglite    only this database
//   --json FILE             write the results as JSON
//   --list                  print the scenarios and exit
//
// Starts its own services (a private PostgreSQL cluster and PGlite, each behind a TCP proxy, and a
// private redis-server with AOF) and removes them on success, failure, SIGINT and SIGTERM. Never
// touches the machine's PostgreSQL or Redis.
import fs from "node:fs";
import { parseArgs } from "node:util";

import { plan, runChaos, scenarioNames, type RunResult } from "./lib/chaos/run";
import { SCENARIOS, type Mode } from "./lib/chaos/scenarios";
import { ChaosServices, type ChaosDb } from "./lib/chaos/services";
import { formatTable } from "./lib/chaos/table";

const { values: a } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    only: { type: "string" },
    mode: { type: "string" },
    db: { type: "string" },
    json: { type: "string" },
    list: { type: "boolean", default: false },
  },
});

function fail(msg: string): never {
  console.error(`chaos: ${msg}`);
  process.exit(2);
}

if (a.list) {
  for (const s of SCENARIOS) console.log(`${s.name.padEnd(14)} ${s.title}`);
  process.exit(0);
}
const only = a.only
  ? a.only
      .split(",")
      .map((x) => x.trim())
      .filter(Boolean)
  : undefined;
for (const n of only ?? [])
  if (!scenarioNames().includes(n)) fail(`unknown scenario "${n}" (known: ${scenarioNames().join(", ")})`);
if (a.mode && a.mode !== "direct" && a.mode !== "flusher") fail("--mode must be direct or flusher");
if (a.db && a.db !== "postgres" && a.db !== "pglite") fail("--db must be postgres or pglite");
const modes: Mode[] = a.mode ? [a.mode as Mode] : ["direct", "flusher"];
const dbs: ChaosDb[] = a.db ? [a.db as ChaosDb] : ["postgres", "pglite"];
const runs = plan({ only, modes, dbs, quick: a.quick });
const needed = [...new Set(runs.filter((r) => !r.na && !r.skip).map((r) => r.db))];

const log = (m: string) => console.log(`[chaos] ${m}`);
const t0 = performance.now();
let services: ChaosServices | null = null;
let interrupted = false;
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    console.error(`\nchaos: ${sig}, cleaning up…`);
    void (services?.stop() ?? Promise.resolve()).finally(() => process.exit(130));
  });
}

let results: RunResult[] = [];
let code = 0;
try {
  services = await ChaosServices.start(needed, log);
  results = await runChaos(
    {
      quick: a.quick,
      only,
      modes,
      dbs,
      log,
      onResult: (r) => {
        if (r.status === "n/a") log(`   ${r.scenario} · ${r.mode} · ${r.db}: n/a (${r.reason})`);
        else if (r.status === "skipped") return;
        else if (r.status === "error") log(`   ✗ ERROR ${r.reason}`);
        else
          log(
            `   ${r.ok ? "✓" : "✗"} ${r.requests} req, $${r.attemptedUsd.toFixed(4)} attempted, PostgreSQL Δ $${r.postgresDeltaUsd.toFixed(4)}, ` +
              `parked ${JSON.stringify(r.parked)}, ${r.seconds.toFixed(1)} s${r.notes.length ? ` — ${r.notes.join("; ")}` : ""}`,
          );
      },
    },
    services,
  );
} catch (e) {
  console.error("chaos: failed:", e);
  code = 1;
} finally {
  await services?.stop();
}
if (interrupted) process.exit(130);
const total = (performance.now() - t0) / 1000;
console.log(`\n${formatTable(results)}`);
const breaches = results.filter((r) => !r.ok);
for (const r of breaches) {
  console.log(`\n✗ ${r.scenario} · ${r.mode} · ${r.db}${r.status === "error" ? `: ${r.reason}` : ""}`);
  for (const l of r.lost) console.log(`    lost     ${l.key} −$${l.missingUsd.toFixed(10)}`);
  for (const d of r.doubled) console.log(`    doubled  ${d.key} +$${d.extraUsd.toFixed(10)}`);
  for (const d of r.drift) console.log(`    drift    ${d.key} Redis ${d.redis} ≠ PostgreSQL ${d.postgres}`);
  for (const o of r.overCap)
    console.log(`    over cap ${o.key} ${o.window} ${o.usage} > ${o.limit} + ${o.toleranceUsd.toFixed(4)}`);
  if (r.status === "ran" && !r.quiesced) console.log(`    work left after quiesce: ${JSON.stringify(r.left)}`);
  for (const n of r.notes) console.log(`    note     ${n}`);
  const alerts = Object.entries(r.alerts)
    .sort((x, y) => y[1] - x[1])
    .slice(0, 6);
  for (const [m, n] of alerts) console.log(`    log ×${n} ${m}`);
}
const ran = results.filter((r) => r.status === "ran").length;
const skipped = results.filter((r) => r.status === "skipped").length;
console.log(
  `\n${ran} run(s), ${results.filter((r) => r.status === "n/a").length} n/a${skipped ? `, ${skipped} skipped` : ""}, ${breaches.length} breach(es); ${total.toFixed(0)} s${a.quick ? " (--quick)" : ""}`,
);
if (a.json) fs.writeFileSync(a.json, JSON.stringify({ quick: a.quick, seconds: total, results }, null, 2));
process.exit(code || breaches.length ? 1 : 0);
