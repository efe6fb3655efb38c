import os from "node:os";
import type Redis from "ioredis";
import type pg from "pg";

export type MachineFacts = Awaited<ReturnType<typeof machineFacts>>;

/** What the figures depend on: Node, the CPUs and memory, the server versions and durability settings, the load. */
export async function machineFacts(db: Pick<pg.Pool, "query">, redis: Redis) {
  const { rows } = await db.query<{ v: string; sc: string; fsync: string }>(
    "SELECT current_setting('server_version') AS v, current_setting('synchronous_commit') AS sc, current_setting('fsync') AS fsync",
  );
  const info = await redis.info("server");
  return {
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? "unknown",
    totalMemMiB: Math.round(os.totalmem() / 2 ** 20),
    exposeGc: typeof (globalThis as { gc?: unknown }).gc === "function",
    redisVersion: /^redis_version:(.*)$/m.exec(info)?.[1]?.trim() ?? "unknown",
    postgresVersion: rows[0].v,
    postgresSynchronousCommit: rows[0].sc,
    postgresFsync: rows[0].fsync,
    loadAvgBefore: loadAvg(),
  };
}

export const loadAvg = () => os.loadavg().map((x) => Number(x.toFixed(2)));

/** One line for the end of the output. */
export function machineLine(m: MachineFacts, extra = ""): string {
  return (
    `machine: node ${m.node}, ${m.cpus} cpus (${m.cpuModel}), ${m.totalMemMiB} MiB, ` +
    `PostgreSQL ${m.postgresVersion}, Redis ${m.redisVersion}${extra}`
  );
}
