import net from "node:net";
import Redis from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { PgliteServer, PostgresCluster, RedisProcess, TcpProxy } from "../../scripts/lib/faults";
import { testEnv } from "../support/test-env";

/**
 * The fault-injection harness (scripts/lib/faults) against real servers: every fault it claims
 * to inject is observed from a real client. Everything started here is torn down in afterAll,
 * pass or fail (and by the harness's exit hook if even that is skipped).
 */
const cleanups: Array<() => Promise<unknown> | unknown> = [];
const track = <T>(x: T, stop: (x: T) => Promise<unknown> | unknown): T => (cleanups.push(() => stop(x)), x);
afterAll(async () => {
  for (const stop of cleanups.reverse()) {
    try {
      await stop();
    } catch (e) {
      console.error("cleanup failed:", e);
    }
  }
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Whether `p` settles within `ms` (it keeps running either way). */
const settlesWithin = (p: Promise<unknown>, ms: number) =>
  Promise.race([
    p.then(
      () => true,
      () => true,
    ),
    sleep(ms).then(() => false),
  ]);

/** A pg client that is destroyed (not end()ed: that can hang on a hung server) in afterAll. */
async function connect(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  c.on("error", () => {}); // faults are the point: a dead connection must not crash the run
  track(c, (x) => x.connection.stream.destroy());
  await c.connect();
  return c;
}

async function one(c: pg.Client, sql: string): Promise<unknown> {
  const { rows } = await c.query(sql);
  return Object.values(rows[0] as Record<string, unknown>)[0];
}

describe("TcpProxy in front of the shared PostgreSQL (5432)", () => {
  const target = new URL(testEnv().databaseUrl);
  let proxy: TcpProxy;
  let direct: pg.Client;
  let proxyUrl: string;

  beforeAll(async () => {
    direct = await connect(target.toString());
    await direct.query("DROP TABLE IF EXISTS faults_harness_probe");
    await direct.query("CREATE TABLE faults_harness_probe (id int PRIMARY KEY, v int NOT NULL)");
    cleanups.push(() => direct.query("DROP TABLE IF EXISTS faults_harness_probe"));
    await direct.query("INSERT INTO faults_harness_probe VALUES (1, 0)");
    proxy = track(await TcpProxy.start({ targetHost: target.hostname, targetPort: Number(target.port || 5432) }), (p) =>
      p.close(),
    );
    const u = new URL(target);
    u.port = String(proxy.port);
    proxyUrl = u.toString();
  });

  it("pause() hangs an open connection and a new one; pass() delivers both, in order", async () => {
    const a = await connect(proxyUrl);
    expect(await one(a, "SELECT 1")).toBe(1);
    await proxy.pause();
    const q = a.query("SELECT 2 AS x");
    const late = connect(proxyUrl); // accepted, then nothing
    expect(await settlesWithin(q, 500)).toBe(false);
    expect(await settlesWithin(late, 0)).toBe(false);
    expect(proxy.stats()).toMatchObject({ mode: "pause", bufferedUp: expect.any(Number) });
    expect(proxy.stats().bufferedUp).toBeGreaterThan(0);
    await proxy.pass();
    expect((await q).rows[0]).toEqual({ x: 2 });
    expect(await one(await late, "SELECT 3")).toBe(3);
    const s = proxy.stats();
    expect(s).toMatchObject({ mode: "pass", bufferedUp: 0, bufferedDown: 0 });
    expect(s.connections).toBeGreaterThanOrEqual(2);
    expect(s.bytesUp).toBeGreaterThan(0);
    expect(s.bytesDown).toBeGreaterThan(0);
  });

  it("refuse() makes new connections fail with ECONNREFUSED while open ones keep working", async () => {
    const a = await connect(proxyUrl);
    await proxy.refuse();
    await expect(connect(proxyUrl)).rejects.toMatchObject({ code: "ECONNREFUSED" });
    expect(await one(a, "SELECT 4")).toBe(4);
    await proxy.pass(); // listens again, same port
    expect(await one(await connect(proxyUrl), "SELECT 5")).toBe(5);
  });

  it("cut() resets open connections; the proxy keeps serving new ones", async () => {
    const a = await connect(proxyUrl);
    const q = a.query("SELECT pg_sleep(2)");
    await sleep(100);
    const t0 = Date.now();
    proxy.cut();
    await expect(q).rejects.toThrow();
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(await one(await connect(proxyUrl), "SELECT 6")).toBe(6);
  });

  it("an UPDATE sent during a pause still commits after pass(), though its client gave up", async () => {
    // The client times out and closes its socket, but its bytes are already on the way (in the
    // proxy here; in kernel buffers on a real hung server or partition). When the pause ends the
    // server reads them and commits. A caller that treats "timed out" as "didn't happen" and
    // retries bills twice: this is why the billing writes need exactly-once commits (an
    // idempotency key checked in the same transaction), not retry-on-timeout.
    const a = await connect(proxyUrl);
    await proxy.pause();
    const q = a.query("UPDATE faults_harness_probe SET v = v + 1 WHERE id = 1").then(
      () => null,
      (e: Error) => e,
    );
    await sleep(200);
    a.connection.stream.destroy(); // the client gives up
    expect(await q).toBeInstanceOf(Error);
    const v = () => one(direct, "SELECT v FROM faults_harness_probe WHERE id = 1");
    await sleep(200);
    expect(await v()).toBe(0); // not applied while hung
    await proxy.pass();
    const deadline = Date.now() + 3000;
    while ((await v()) !== 1 && Date.now() < deadline) await sleep(20);
    expect(await v()).toBe(1); // applied late, exactly when the hang ended
  });

  it("half-closes, resets and a dead target never crash it", async () => {
    const raw = (port: number, act: (s: net.Socket) => void) =>
      new Promise<void>((resolve) => {
        const s = net.connect(port, "127.0.0.1", () => act(s));
        s.on("error", () => {});
        s.on("close", () => resolve());
        s.resume();
      });
    await raw(proxy.port, (s) => s.end("garbage\n")); // FIN after junk: PostgreSQL closes
    await raw(proxy.port, (s) => s.resetAndDestroy());
    const dead = track(await TcpProxy.start({ targetHost: "127.0.0.1", targetPort: proxy.port }), (p) => p.close());
    await proxy.refuse(); // dead's target now refuses
    await raw(dead.port, (s) => s.write("x"));
    await proxy.pass();
    expect(await one(await connect(proxyUrl), "SELECT 7")).toBe(7);
  });
});

describe("RedisProcess", () => {
  const fill = async (url: string) => {
    const c = new Redis(url);
    const p = c.pipeline();
    for (let i = 0; i < 100; i++) p.set(`k${i}`, `v${i}`);
    await p.exec();
    c.disconnect();
  };
  const count = async (url: string) => {
    const c = new Redis(url);
    const n = (await c.mget(...Array.from({ length: 100 }, (_, i) => `k${i}`))).filter((v, i) => v === `v${i}`).length;
    c.disconnect();
    return n;
  };

  it("with AOF, writes survive kill() + restart(); without AOF they are gone", async () => {
    const aof = track(await RedisProcess.start({ appendonly: true, appendfsync: "always" }), (r) => r.cleanup());
    const mem = track(await RedisProcess.start({ appendonly: false }), (r) => r.cleanup());
    await fill(aof.url());
    await fill(mem.url(3));
    await Promise.all([aof.kill(), mem.kill()]);
    expect(aof.running).toBe(false);
    await Promise.all([aof.restart(), mem.restart()]);
    expect(await count(aof.url())).toBe(100);
    expect(await count(mem.url(3))).toBe(0);
  });

  it("pause() hangs commands (they time out), resume() answers them — the timed-out one ran late", async () => {
    const r = track(await RedisProcess.start(), (x) => x.cleanup());
    const c = track(new Redis(r.url(), { commandTimeout: 300, maxRetriesPerRequest: 0 }), (x) => x.disconnect());
    c.on("error", () => {});
    expect(await c.ping()).toBe("PONG");
    r.pause();
    const t0 = Date.now();
    await expect(c.incr("n")).rejects.toThrow(/timed out/);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
    r.resume();
    expect(await c.get("n")).toBe("1");
  });
});

describe("PostgresCluster", () => {
  let cluster: PostgresCluster;
  let url: string;

  beforeAll(async () => {
    cluster = track(await PostgresCluster.start(), (c) => c.cleanup());
    url = await cluster.createDatabase("faults");
  });

  it("serves a created database; restart immediate breaks open clients, keeps committed data", async () => {
    const a = await connect(url);
    await a.query("CREATE TABLE t (v int); INSERT INTO t VALUES (42)");
    const oldPid = cluster.pid;
    await cluster.restart({ mode: "immediate" });
    expect(cluster.pid).not.toBe(oldPid);
    await expect(a.query("SELECT 1")).rejects.toThrow();
    const b = await connect(url);
    expect(await one(b, "SELECT v FROM t")).toBe(42);
  });

  it("pause() hangs queries (postmaster and backends stopped), resume() answers them", async () => {
    const a = await connect(url);
    expect(await one(a, "SELECT 1")).toBe(1);
    cluster.pause();
    const q = a.query("SELECT 2 AS x");
    const late = connect(url);
    expect(await settlesWithin(q, 600)).toBe(false);
    expect(await settlesWithin(late, 0)).toBe(false);
    cluster.resume();
    expect((await q).rows[0]).toEqual({ x: 2 });
    expect(await one(await late, "SELECT 3")).toBe(3);
  });
});

describe("PgliteServer", () => {
  it("runs the migrations in its child process and serves them over TCP; pause/kill are real", async () => {
    const s = track(await PgliteServer.start({ migrate: true }), (x) => x.kill());
    const a = await connect(s.url());
    expect(await one(a, "SELECT count(*)::int FROM user_platform_quotas")).toBe(0);
    s.pause();
    const q = a.query("SELECT 1 AS x");
    expect(await settlesWithin(q, 400)).toBe(false);
    s.resume();
    expect((await q).rows[0]).toEqual({ x: 1 });
    await s.kill();
    expect(s.running).toBe(false);
    await expect(a.query("SELECT 1")).rejects.toThrow();
  });
});
