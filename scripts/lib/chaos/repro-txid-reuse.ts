// Minimal reproduction of the chaos suite's "pg-restart · direct" finding:
//   npx tsx scripts/lib/chaos/repro-txid-reuse.ts
// Why the ledger resolves an unconfirmed COMMIT by its commit marker (QuotaRepository.commitStatus) and
// no longer by txid_status, which it did until this finding (see tests/integration/billing-repo.test.ts
// "commit markers across a PostgreSQL crash" for the ledger's side):
// txid_status is only a safe "did it commit?" for a txid the server has made durable. A transaction that
// is open (its txid already handed out — the ledger stored it in the journal BEFORE sending COMMIT) when
// the server crashes leaves no WAL behind if its WAL buffers were not written yet; after recovery the
// server hands out the SAME txid again, and once that new transaction commits, txid_status says
// "committed" for the old one — whose write never happened. A parked op whose stored txid was resolved
// this way was dropped as done: its cost was lost.
import pg from "pg";

import { PostgresCluster } from "../faults";

const cluster = await PostgresCluster.start({ fsync: true }); // real fsync: not an artefact of fsync=off
let code = 1;
try {
  const url = await cluster.createDatabase("txid_reuse");
  const setup = new pg.Client({ connectionString: url });
  await setup.connect();
  await setup.query("CREATE TABLE usage (id int PRIMARY KEY, v numeric NOT NULL); INSERT INTO usage VALUES (1, 0)");
  await setup.end();

  // The op's write: BEGIN + UPDATE, txid returned (and "stored" by the caller), COMMIT not yet sent.
  const a = new pg.Client({ connectionString: url });
  a.on("error", () => {});
  await a.connect();
  const [, upd] = (await a.query(
    "BEGIN; UPDATE usage SET v = v + 0.25 WHERE id = 1 RETURNING txid_current()::text AS txid",
  )) as unknown as pg.QueryResult<{ txid: string }>[];
  const txid = upd.rows[0].txid;
  console.log(`op's transaction: txid ${txid}, COMMIT not sent yet`);

  await cluster.restart({ mode: "immediate" }); // crash + recovery
  console.log("server crashed and recovered (pg_ctl restart -m immediate)");

  const b = new pg.Client({ connectionString: url });
  await b.connect();
  const status = async () =>
    await b.query<{ s: string | null }>("SELECT txid_status($1::bigint) AS s", [txid]).then(
      (r) => r.rows[0].s,
      (e: Error) => `error: ${e.message}`,
    );
  console.log(`txid_status(${txid}) right after recovery: ${await status()}`);
  // Other work goes on (other ops, other writers): each transaction takes the next txid.
  let reused = false;
  for (let i = 0; i < 5 && !reused; i++) {
    const { rows } = await b.query<{ t: string }>(
      "UPDATE usage SET v = v WHERE id = 1 RETURNING txid_current()::text AS t",
    );
    if (rows[0].t === txid) reused = true;
  }
  const v = (await b.query<{ v: string }>("SELECT v::text AS v FROM usage WHERE id = 1")).rows[0].v;
  const s = await status();
  console.log(
    `txid ${txid} handed out again to a new transaction: ${reused}; txid_status now: ${s}; the op's update is in the table: ${v !== "0"} (v = ${v})`,
  );
  await b.end();
  if (reused && s === "committed" && v === "0") {
    console.log(
      "✗ REPRODUCED: txid_status reports the op's transaction committed, but its write was lost in the crash",
    );
    code = 1;
  } else {
    console.log("not reproduced this time (the op's WAL reached disk before the crash)");
    code = 0;
  }
} finally {
  await cluster.cleanup();
}
process.exit(code);
