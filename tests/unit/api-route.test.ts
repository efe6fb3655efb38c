import net from "node:net";
import { PrismaPg } from "@prisma/adapter-pg";
import Redis from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

import { isBackendUnavailable } from "@/lib/api/errors";
import { jsonRoute, RETRY_AFTER_SECONDS } from "@/lib/api/route";
import { BillingServiceError } from "@/lib/billing/errors";
import { PrismaClient } from "@/lib/generated/prisma/client";
import { checkBearer } from "@/lib/metrics/auth";
import { blackholeServer } from "@/scripts/lib/faults";

/**
 * The route wrapper's classifier decides between "retry in a moment" (503) and "a bug" (500). The
 * errors here are the real objects pg, Prisma's pg adapter and ioredis throw against a closed port
 * and a server that accepts but never answers (local sockets, no database needed); the ones that
 * need a real PostgreSQL (statement timeout, terminated backend) are in
 * tests/integration/metrics.test.ts. A regression here turns an outage into 500s that page the
 * wrong people, or a bug into a 503 that clients retry forever.
 */
const quick = { connectionTimeoutMillis: 300, query_timeout: 500 };
let closedPort: number;
let hole: Awaited<ReturnType<typeof blackholeServer>>;

const caught = async (p: Promise<unknown>): Promise<unknown> => {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected a rejection");
};

function pool(port: number, opts: pg.PoolConfig = {}) {
  const p = new pg.Pool({ connectionString: `postgresql://postgres@127.0.0.1:${port}/qc_none`, ...quick, ...opts });
  p.on("error", () => {});
  return p;
}

beforeAll(async () => {
  closedPort = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
  hole = await blackholeServer();
});
afterAll(async () => {
  await hole.close();
});

describe("isBackendUnavailable: real pg errors", () => {
  it("connection refused (ECONNREFUSED)", async () => {
    const p = pool(closedPort);
    const e = await caught(p.query("SELECT 1"));
    expect(e).toMatchObject({ code: "ECONNREFUSED" });
    expect(isBackendUnavailable(e)).toBe(true);
    await p.end();
  });

  it("a hung server: connect timeout ('Connection terminated due to connection timeout')", async () => {
    const p = pool(hole.port);
    const e = await caught(p.query("SELECT 1"));
    expect((e as Error).message).toMatch(/Connection terminated due to connection timeout/);
    expect(isBackendUnavailable(e)).toBe(true);
    await p.end();
  });

  it("the pool is exhausted ('timeout exceeded when trying to connect')", async () => {
    const p = pool(hole.port, { max: 1, connectionTimeoutMillis: 300 });
    const holder = p.connect().catch((err: unknown) => err); // takes the only slot (and times out itself)
    const e = await caught(p.query("SELECT 1")); // waits in the pool's queue
    expect((e as Error).message).toBe("timeout exceeded when trying to connect");
    expect(isBackendUnavailable(e)).toBe(true);
    expect(isBackendUnavailable(await holder)).toBe(true);
    await p.end();
  });
});

describe("isBackendUnavailable: real Prisma (driver adapter) errors", () => {
  it("P1001 against a closed port, and a hung server's connect timeout", async () => {
    for (const port of [closedPort, hole.port]) {
      const prisma = new PrismaClient({ adapter: new PrismaPg(pool(port)) });
      const e = await caught(prisma.user.findFirst());
      expect(isBackendUnavailable(e), String(e)).toBe(true);
      if (port === closedPort) expect(e).toMatchObject({ name: "PrismaClientKnownRequestError", code: "P1001" });
      const raw = await caught(prisma.$queryRaw`SELECT 1`);
      expect(isBackendUnavailable(raw), String(raw)).toBe(true);
      await prisma.$disconnect();
    }
  });
});

describe("isBackendUnavailable: real ioredis errors", () => {
  const opts = { maxRetriesPerRequest: 1, commandTimeout: 300, connectTimeout: 200, retryStrategy: () => 50 };

  it("refused: MaxRetriesPerRequestError; hung: 'Command timed out'; no offline queue", async () => {
    const refused = new Redis(`redis://127.0.0.1:${closedPort}`, opts);
    const hung = new Redis(`redis://127.0.0.1:${hole.port}`, { ...opts, connectTimeout: 5000 });
    const offline = new Redis(`redis://127.0.0.1:${closedPort}`, { ...opts, enableOfflineQueue: false });
    for (const r of [refused, hung, offline]) r.on("error", () => {});
    try {
      const errors = [await caught(refused.get("k")), await caught(hung.get("k")), await caught(offline.get("k"))];
      expect((errors[1] as Error).message).toBe("Command timed out");
      for (const e of errors) expect(isBackendUnavailable(e), String(e)).toBe(true);
    } finally {
      for (const r of [refused, hung, offline]) r.disconnect();
    }
  });
});

describe("isBackendUnavailable: shapes that need a live server, and what stays a 500", () => {
  const dbError = (code: string, message = "x") =>
    Object.assign(new pg.DatabaseError(message, 0, "error"), { code, severity: "ERROR" });

  it.each(["08006", "08001", "08P01", "57P01", "57P02", "57P03", "57014", "53300", "25P03"])(
    "SQLSTATE %s → unavailable",
    (code) => {
      expect(isBackendUnavailable(dbError(code))).toBe(true);
    },
  );

  it.each(["23505", "22012", "42P01", "40001", "P0001", "3D000"])("SQLSTATE %s → a bug (500)", (code) => {
    expect(isBackendUnavailable(dbError(code))).toBe(false);
  });

  it("Prisma's driver-adapter cause is followed (P2039 wrapping 57014)", () => {
    const e = Object.assign(new Error("Database error. Code: `57014`."), {
      name: "PrismaClientKnownRequestError",
      code: "P2039",
      meta: {
        driverAdapterError: {
          name: "DriverAdapterError",
          cause: { kind: "postgres", code: "57014", originalCode: "57014" },
        },
      },
    });
    expect(isBackendUnavailable(e)).toBe(true);
    const bug = {
      ...e,
      message: "Database error",
      meta: { driverAdapterError: { cause: { kind: "postgres", code: "23505" } } },
    };
    expect(isBackendUnavailable(bug)).toBe(false);
  });

  it("a wrapped cause, an AggregateError, a TimeoutError and a billing outage", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED ::1:5432"), {
      code: "ECONNREFUSED",
      syscall: "connect",
      errno: -111,
    });
    expect(isBackendUnavailable(new Error("loading quotas failed", { cause: refused }))).toBe(true);
    expect(isBackendUnavailable(new AggregateError([refused], ""))).toBe(true);
    expect(isBackendUnavailable(new DOMException("The operation was aborted due to timeout", "TimeoutError"))).toBe(
      true,
    );
    expect(isBackendUnavailable(new BillingServiceError())).toBe(true);
  });

  it("ordinary bugs are not mistaken for outages", () => {
    expect(isBackendUnavailable(new TypeError("Cannot read properties of undefined (reading 'id')"))).toBe(false);
    expect(isBackendUnavailable(new Error("timeout"))).toBe(false);
    expect(isBackendUnavailable(new DOMException("aborted", "AbortError"))).toBe(false);
    expect(isBackendUnavailable("a string")).toBe(false);
    expect(isBackendUnavailable(null)).toBe(false);
    const loop: { cause?: unknown } = {};
    loop.cause = loop;
    expect(isBackendUnavailable(loop)).toBe(false);
  });
});

describe("jsonRoute", () => {
  const req = new Request("http://console.test/api/v1/me?token=secret-in-query");

  it("passes a handler's response through", async () => {
    const res = await jsonRoute<[Request]>(async () => Response.json({ ok: 1 }, { status: 201 }))(req);
    expect(res.status).toBe(201);
    expect(await res.json()).toEqual({ ok: 1 });
  });

  it("an infrastructure error → 503 envelope with Retry-After, no details", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const res = await jsonRoute<[Request]>(async () => {
      throw Object.assign(new Error("connect ECONNREFUSED 10.1.2.3:5432"), { code: "ECONNREFUSED" });
    })(req);
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe(String(RETRY_AFTER_SECONDS));
    expect(res.headers.get("cache-control")).toBe("no-store");
    const text = await res.text();
    expect(JSON.parse(text)).toEqual({ code: 503, message: "SERVICE_UNAVAILABLE", reason: "BACKEND_UNAVAILABLE" });
    expect(text).not.toContain("10.1.2.3");
    expect(warn.mock.calls[0][0]).toContain("GET /api/v1/me");
    expect(warn.mock.calls[0][0]).not.toContain("secret-in-query");
    warn.mockRestore();
  });

  it("anything else → 500 with an error id that is logged with the stack and never the message", async () => {
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    const res = await jsonRoute<[Request]>(() => {
      throw new TypeError("secret detail: row 42 of users");
    })(req);
    expect(res.status).toBe(500);
    const text = await res.text();
    const body = JSON.parse(text);
    expect(body).toEqual({ code: 500, message: "INTERNAL_ERROR", error_id: expect.stringMatching(/^[0-9a-f-]{36}$/) });
    expect(text).not.toMatch(/secret|TypeError|stack/);
    expect(error).toHaveBeenCalledTimes(1);
    expect(error.mock.calls[0][0]).toContain(body.error_id);
    expect((error.mock.calls[0][1] as Error).stack).toContain("secret detail");
    error.mockRestore();
  });
});

describe("metrics bearer check", () => {
  const token = "0123456789abcdef-metrics";

  it("accepts exactly the token, in the Bearer scheme", () => {
    expect(checkBearer(`Bearer ${token}`, token)).toBe("ok");
    expect(checkBearer(`bearer ${token}`, token)).toBe("ok");
  });

  it("refuses a missing, other-scheme, shorter, longer or different token", () => {
    expect(checkBearer(null, token)).toBe("missing");
    expect(checkBearer("", token)).toBe("missing");
    expect(checkBearer(`Basic ${Buffer.from(`x:${token}`).toString("base64")}`, token)).toBe("missing");
    expect(checkBearer(token, token)).toBe("missing");
    expect(checkBearer("Bearer ", token)).toBe("missing");
    expect(checkBearer(`Bearer ${token.slice(0, -1)}`, token)).toBe("wrong");
    expect(checkBearer(`Bearer ${token}x`, token)).toBe("wrong");
    expect(checkBearer(`Bearer ${token.toUpperCase()}`, token)).toBe("wrong");
    expect(checkBearer(`Bearer ${token} extra`, token)).toBe("missing");
  });
});
