/**
 * The environment `npm test` prepared (scripts/test.ts): a throwaway database and a private
 * Redis db number. Refuses to run against anything else, so a stray DATABASE_URL can never point
 * a test at real data.
 */
export function testEnv() {
  const databaseUrl = process.env.DATABASE_URL ?? "";
  const redisUrl = process.env.REDIS_URL ?? "";
  if (process.env.QC_TEST_RUN !== "1") {
    throw new Error("Run the tests with `npm test` (it creates the test database and Redis db).");
  }
  const db = new URL(databaseUrl);
  if (!/^qc_test_/.test(db.pathname.slice(1))) throw new Error(`refusing to test against database ${db.pathname}`);
  if (!["127.0.0.1", "localhost", "::1", "[::1]"].includes(db.hostname) && process.env.ALLOW_REMOTE_TEST_DB !== "1") {
    throw new Error(`refusing to test against non-local database host ${db.hostname}`);
  }
  return { databaseUrl, redisUrl, sessionSecret: process.env.SESSION_SECRET ?? "" };
}
