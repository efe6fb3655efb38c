import Redis from "ioredis";
import type pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { hashPassword } from "@/lib/auth/password";
import { rawDb } from "../support/db";
import { testEnv } from "../support/test-env";

const PASSWORD = "right-password";
const GO_HASH = "$2a$10$XajjQvNhvvRt5GSeFk1xFeyqRrsxkhBkUiQeg0dt.wU1qD4aFDcga"; // "allmine", written by Go
let c: pg.Client;
let r: Redis;

async function freshModules(redisUrl: string) {
  vi.resetModules();
  delete (globalThis as { qcRedis?: unknown }).qcRedis;
  process.env.REDIS_URL = redisUrl;
  return import("@/lib/auth/credentials");
}

beforeAll(async () => {
  c = await rawDb();
  r = new Redis(testEnv().redisUrl);
  const hash = await hashPassword(PASSWORD);
  await c.query(
    `INSERT INTO users (email, password_hash, status) VALUES
       ('auth-ok@example.com', $1, 'active'), ('auth-off@example.com', $1, 'disabled'), ('auth-go@example.com', $2, 'active')`,
    [hash, GO_HASH],
  );
});
beforeEach(async () => {
  const keys = await r.keys("qc:login:*");
  if (keys.length) await r.del(...keys);
});
afterAll(async () => {
  await c.query("DELETE FROM users WHERE email LIKE 'auth-%@example.com'");
  await c.end();
  await r.quit();
  process.env.REDIS_URL = testEnv().redisUrl;
});

describe("checkCredentials (real PostgreSQL + Redis)", () => {
  it("accepts the right password, case-insensitively by e-mail, and a hash written by the Go gateway", async () => {
    const { checkCredentials } = await freshModules(testEnv().redisUrl);
    expect(await checkCredentials("auth-ok@example.com", PASSWORD, "10.0.0.1")).toMatchObject({ ok: true });
    expect(await checkCredentials("  AUTH-OK@Example.com ", PASSWORD, "10.0.0.1")).toMatchObject({ ok: true });
    expect(await checkCredentials("auth-go@example.com", "allmine", "10.0.0.1")).toMatchObject({ ok: true });
  });

  // Guards against account enumeration: unknown e-mail, wrong password and disabled account
  // must be indistinguishable in the answer.
  it("answers the same for unknown e-mail, wrong password and a disabled account", async () => {
    const { checkCredentials } = await freshModules(testEnv().redisUrl);
    const answers = await Promise.all([
      checkCredentials("nobody@example.com", PASSWORD, "10.0.0.2"),
      checkCredentials("auth-ok@example.com", "wrong", "10.0.0.3"),
      checkCredentials("auth-off@example.com", PASSWORD, "10.0.0.4"),
    ]);
    for (const a of answers) expect(a).toEqual({ ok: false, code: "INVALID_CREDENTIALS" });
  });

  it("refuses the 6th rapid failure — even with the right password — and counts in Redis with a TTL", async () => {
    const { checkCredentials } = await freshModules(testEnv().redisUrl);
    for (let i = 1; i <= 5; i++) {
      expect(await checkCredentials("auth-ok@example.com", `wrong-${i}`, "10.0.0.5")).toEqual({ ok: false, code: "INVALID_CREDENTIALS" });
    }
    const sixth = await checkCredentials("auth-ok@example.com", PASSWORD, "10.0.0.6");
    expect(sixth).toMatchObject({ ok: false, code: "RATE_LIMITED" });
    expect((sixth as { retryAfterSeconds: number }).retryAfterSeconds).toBeGreaterThan(800);
    const [acct] = await r.keys("qc:login:fail:acct:*");
    expect(await r.get(acct)).toBe("5");
    const ttl = await r.ttl(acct);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(900);
    expect(acct).not.toContain("auth-ok"); // no e-mail address stored in Redis
    // Another account from another IP is not affected.
    expect(await checkCredentials("auth-go@example.com", "allmine", "10.0.0.7")).toMatchObject({ ok: true });
  });

  it("a success clears the account's counter", async () => {
    const { checkCredentials } = await freshModules(testEnv().redisUrl);
    for (let i = 0; i < 4; i++) await checkCredentials("auth-ok@example.com", "wrong", "10.0.0.8");
    expect(await checkCredentials("auth-ok@example.com", PASSWORD, "10.0.0.8")).toMatchObject({ ok: true });
    for (let i = 0; i < 4; i++) await checkCredentials("auth-ok@example.com", "wrong", "10.0.0.8");
    expect(await checkCredentials("auth-ok@example.com", PASSWORD, "10.0.0.8")).toMatchObject({ ok: true });
  });

  it("throttles per IP across accounts", async () => {
    process.env.LOGIN_IP_MAX_FAILURES = "3";
    try {
      const { checkCredentials } = await freshModules(testEnv().redisUrl);
      for (let i = 0; i < 3; i++) await checkCredentials(`nobody${i}@example.com`, "x", "10.9.9.9");
      expect(await checkCredentials("auth-ok@example.com", PASSWORD, "10.9.9.9")).toMatchObject({ code: "RATE_LIMITED" });
      expect(await checkCredentials("auth-ok@example.com", PASSWORD, "10.9.9.10")).toMatchObject({ ok: true });
    } finally {
      delete process.env.LOGIN_IP_MAX_FAILURES;
    }
  });

  // Guards against throttling silently switching off when Redis is unreachable.
  it("keeps throttling in process memory while Redis is unreachable", async () => {
    const { checkCredentials } = await freshModules("redis://127.0.0.1:1/0");
    for (let i = 0; i < 5; i++) {
      expect(await checkCredentials("auth-ok@example.com", "wrong", "10.0.1.1")).toEqual({ ok: false, code: "INVALID_CREDENTIALS" });
    }
    expect(await checkCredentials("auth-ok@example.com", PASSWORD, "10.0.1.1")).toMatchObject({ code: "RATE_LIMITED" });
  });
});
