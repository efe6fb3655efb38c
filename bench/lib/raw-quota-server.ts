// The quota API's raw baseline (bench/dashboard.ts): a minimal node:http server doing the reads of
// GET /api/v1/user/platform-quotas with the app's own code and clients, and nothing of Next.js —
// the cookie's HMAC check and the session lookup (lib/auth/session-cache.ts: the same SQL and the
// same in-process cache), the quota query and the Redis pipeline (getMyQuotas on a billing runtime
// with a pg pool and an ioredis client configured as the app's), the same JSON body. What the
// framework costs is the difference. No security headers, no compression, no routing beyond a
// string compare.
//
// Started by bench/lib/server.ts (startRawServer) as
//   node --import tsx --conditions=react-server bench/lib/raw-quota-server.ts -p PORT
// with the app server's environment (DATABASE_URL, REDIS_URL, SESSION_SECRET, QUOTA_TIMEZONE).
import http from "node:http";

import { lookupSession } from "@/lib/auth/session-cache";
import { hashSessionToken, verifySessionCookie } from "@/lib/auth/token";
import { createBillingRuntime } from "@/lib/billing/runtime";
import { getMyQuotas } from "@/lib/quota/user";

import { SESSION_COOKIE } from "./session";

const port = Number(process.argv[process.argv.indexOf("-p") + 1]);
const secret = process.env.SESSION_SECRET ?? "";
const billing = createBillingRuntime({
  databaseUrl: process.env.DATABASE_URL,
  redisUrl: process.env.REDIS_URL,
  timeZone: process.env.QUOTA_TIMEZONE,
  poolMax: 10, // DATABASE_POOL_MAX's default, as the app server runs
  repair: false,
});

/** The session cookie's value from a Cookie header (the one cookie the bench sends). */
function cookieValue(header: string | undefined): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function send(res: http.ServerResponse, status: number, body: unknown) {
  const json = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(json),
    "Cache-Control": "no-store",
  });
  res.end(json);
}

const server = http.createServer((req, res) => {
  void (async () => {
    try {
      if (req.url === "/api/health") return send(res, 200, { status: "ok" });
      if (req.url !== "/api/v1/user/platform-quotas") return send(res, 404, { code: 404 });
      const token = verifySessionCookie(cookieValue(req.headers.cookie), secret);
      const user = token ? await lookupSession(billing.pool, hashSessionToken(token)) : null;
      if (!user) return send(res, 401, { code: 401, message: "UNAUTHENTICATED" });
      const data = await getMyQuotas(user.id, { billing });
      send(res, 200, { code: 0, message: "success", data });
    } catch (e) {
      send(res, 500, { code: 500, message: String(e) });
    }
  })();
});
server.listen(port, "127.0.0.1", () => console.log(`[raw] listening on 127.0.0.1:${port}`));
const stop = () => {
  server.close();
  server.closeIdleConnections?.();
  void billing.close().finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 3000).unref();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
