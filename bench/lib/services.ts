import Redis from "ioredis";
import pg from "pg";

import { throwawayServices } from "@/scripts/lib/throwaway-services";

import { onCleanup } from "./lifecycle";
import { progress } from "./run";

export type BenchServices = { databaseUrl: string; redisUrl: string; pool: pg.Pool; redis: Redis };

/**
 * The run's own services: a database qc_bench_<name>_<pid>_<ms> on DATABASE_URL's server
 * (default postgresql://postgres@127.0.0.1:5432/postgres), migrated, and an empty Redis database
 * number 1–15 on REDIS_URL's (default redis://127.0.0.1:6379), claimed with SET qc:bench:claim NX.
 * Both are removed at the end, pass, fail or signal (the database dropped WITH (FORCE), the Redis db
 * flushed if the claim is still this run's). Non-local hosts are refused unless ALLOW_REMOTE_BENCH=1.
 * Also a small pg pool and a Redis connection on them, closed at the end.
 */
export async function benchServices(name: string, o: { poolMax?: number } = {}): Promise<BenchServices> {
  const runId = `${process.pid}_${Date.now()}`;
  const baseDbUrl = process.env.DATABASE_URL || "postgresql://postgres@127.0.0.1:5432/postgres";
  const baseRedisUrl = process.env.REDIS_URL || "redis://127.0.0.1:6379";
  const s = throwawayServices({
    dbName: `qc_bench_${name}_${runId}`,
    baseDbUrl,
    baseRedisUrl,
    runId,
    claimKey: "qc:bench:claim",
    log: progress,
    remoteEnv: "ALLOW_REMOTE_BENCH",
    // BENCH_REDIS_DB=N: use only that (empty) db number, e.g. the one assigned to you on a shared machine
    onlyRedisDb: process.env.BENCH_REDIS_DB ? Number(process.env.BENCH_REDIS_DB) : undefined,
  });
  s.assertLocal(baseDbUrl, "PostgreSQL");
  s.assertLocal(baseRedisUrl, "Redis");
  onCleanup(s.cleanup);
  const databaseUrl = await s.createDatabase();
  progress(`database ${s.dbName}`);
  await s.migrate(databaseUrl);
  const redisUrl = await s.claimRedisDb();
  progress(`Redis db ${s.redisDb}`);
  const pool = new pg.Pool({ connectionString: databaseUrl, max: o.poolMax ?? 4 });
  pool.on("error", () => {});
  onCleanup(() => pool.end());
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  redis.on("error", () => {});
  onCleanup(() => redis.disconnect());
  return { databaseUrl, redisUrl, pool, redis };
}
