import "server-only";

import Redis from "ioredis";

import { REDIS_OPTIONS } from "@/lib/billing/connections";
import { env } from "@/lib/config/env";

/**
 * The process's Redis connection, or null when REDIS_URL is unset (the console then runs without
 * the shared cache and says so in /api/health and the header banner).
 *
 * Commands issued while connecting wait in ioredis' queue (so the first requests after a start
 * are not failed spuriously), but never longer than `commandTimeout`, and a command is retried at
 * most once: while Redis is down a caller gets an error within about a second and applies its own
 * fail-open or fail-closed policy instead of hanging the request.
 */
const globalForRedis = globalThis as unknown as { qcRedis?: Redis | null };

export function redis(): Redis | null {
  if (globalForRedis.qcRedis !== undefined) return globalForRedis.qcRedis;
  const url = env().REDIS_URL;
  if (!url) {
    globalForRedis.qcRedis = null;
    return null;
  }
  const client = new Redis(url, { ...REDIS_OPTIONS, lazyConnect: false, enableOfflineQueue: true });
  // Without a listener ioredis logs every reconnect error as unhandled.
  client.on("error", () => {});
  globalForRedis.qcRedis = client;
  return client;
}
