import fs from "node:fs";
import path from "node:path";

/**
 * DATABASE_URL / REDIS_URL for the command-line tools (simulator, flusher worker). When unset and
 * `npm run demo` is running, its embedded PostgreSQL and private Redis are used (the demo writes
 * their addresses to .data/demo-env.json while it runs).
 */
export function serviceEnv(): { databaseUrl: string; redisUrl: string | null; timeZone: string; source: string } {
  const timeZone = process.env.QUOTA_TIMEZONE || "Asia/Shanghai";
  if (process.env.DATABASE_URL) {
    return {
      databaseUrl: process.env.DATABASE_URL,
      redisUrl: process.env.REDIS_URL || null,
      timeZone,
      source: "environment",
    };
  }
  const file = path.resolve(process.env.DEMO_DATA_DIR ?? ".data", "demo-env.json");
  if (fs.existsSync(file)) {
    const demo = JSON.parse(fs.readFileSync(file, "utf8")) as {
      DATABASE_URL: string;
      REDIS_URL?: string;
      QUOTA_TIMEZONE?: string;
    };
    return {
      databaseUrl: demo.DATABASE_URL,
      redisUrl: process.env.REDIS_URL || demo.REDIS_URL || null,
      timeZone: process.env.QUOTA_TIMEZONE || demo.QUOTA_TIMEZONE || timeZone,
      source: "npm run demo",
    };
  }
  throw new Error("Set DATABASE_URL (and REDIS_URL), or start `npm run demo` first.");
}
