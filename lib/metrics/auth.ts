import "server-only";

import { createHash, timingSafeEqual } from "node:crypto";

/**
 * Bearer-token check of /api/metrics. "missing" when the Authorization header is absent or not a
 * Bearer credential, "wrong" when the token differs, "ok" otherwise. Both sides are hashed first,
 * so timingSafeEqual compares equal-length buffers and the time taken says nothing about the
 * token's length or prefix.
 */
export function checkBearer(authorization: string | null, expected: string): "ok" | "missing" | "wrong" {
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? "");
  if (!m) return "missing";
  const a = createHash("sha256").update(m[1], "utf8").digest();
  const b = createHash("sha256").update(expected, "utf8").digest();
  return timingSafeEqual(a, b) ? "ok" : "wrong";
}
