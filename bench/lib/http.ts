import { performance } from "node:perf_hooks";

import { BenchError, progress, runOps, type Run } from "./run";
import type { Server } from "./server";
import { latencyStats, percentile, sortedSamples, type LatencyStats } from "./stats";
import { f1, printTable } from "./table";

export type Fetched = { ms: number; ttfbMs: number; bytes: number; body: string };

/** One GET with the cookie, timed from fetch() to the last byte of the body; a non-200 throws. */
export async function get(base: string, cookie: string, pathAndQuery: string): Promise<Fetched> {
  const t0 = performance.now();
  const res = await fetch(base + pathAndQuery, {
    headers: { cookie },
    redirect: "manual",
    signal: AbortSignal.timeout(30_000),
  });
  const ttfbMs = performance.now() - t0;
  const body = await res.text();
  const ms = performance.now() - t0;
  if (res.status !== 200) {
    const loc = res.headers.get("location");
    throw new BenchError(`GET ${pathAndQuery}: HTTP ${res.status}${loc ? ` -> ${loc}` : ""} ${body.slice(0, 200)}`);
  }
  return { ms, ttfbMs, bytes: Buffer.byteLength(body), body };
}

export type Ctx = { server: Server; cookie: string };
export type HttpRun = Run<Fetched> & { latencies: Float64Array; ttfb: Float64Array; bytes: number };
type Url = string | ((i: number) => string);
const urlOf = (u: Url, i: number) => (typeof u === "string" ? u : u(i));

/**
 * Closed loop of `total` GETs over `concurrency` clients (one process, the default keep-alive agent),
 * each checked by `check` after its time was taken; the server's CPU time is counted over the run.
 */
export async function runRequests(
  ctx: Ctx,
  name: string,
  total: number,
  concurrency: number,
  url: Url,
  check: (f: Fetched) => void = () => {},
): Promise<HttpRun> {
  progress(`${name}: ${total} requests, concurrency ${concurrency}`);
  const urls = Array.from({ length: total }, (_, i) => urlOf(url, i));
  const ttfb = new Float64Array(total);
  let bytes = 0;
  const run = await runOps(
    total,
    concurrency,
    async (i) => {
      const f = await get(ctx.server.base, ctx.cookie, urls[i]);
      check(f);
      return f;
    },
    {
      name,
      latency: (f) => f.ms,
      onResult: (f, i) => {
        ttfb[i] = f.ttfbMs;
        bytes += f.bytes;
      },
      cpu: ctx.server.cpuSeconds,
    },
  );
  return { ...run, latencies: run.latencies as Float64Array, ttfb, bytes };
}

/** Warm-up requests (checked like the measured ones, not timed). */
export async function warmUp(
  ctx: Ctx,
  url: Url,
  count: number,
  concurrency: number,
  check: (f: Fetched) => void = () => {},
) {
  await runOps(count, concurrency, async (i) => check(await get(ctx.server.base, ctx.cookie, urlOf(url, i))), {
    name: "warm-up",
    record: false,
  });
}

/**
 * Open loop: `clients` clients, each requesting once every `intervalMs` (first request at a random
 * offset), for `seconds` — how a polling page loads the server, as opposed to runRequests' closed
 * loop, which measures saturation.
 */
export async function runPolling(
  ctx: Ctx,
  name: string,
  pathAndQuery: string,
  o: { clients: number; intervalMs: number; seconds: number },
  check: (f: Fetched) => void,
): Promise<HttpRun> {
  progress(`${name}: ${o.clients} clients polling every ${o.intervalMs} ms for ${o.seconds} s`);
  const latencies: number[] = [];
  const ttfb: number[] = [];
  let bytes = 0;
  let first: Fetched | null = null;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const t0 = performance.now();
  const deadline = t0 + o.seconds * 1000;
  const cpu0 = ctx.server.cpuSeconds();
  const client = async () => {
    await sleep(Math.random() * o.intervalMs);
    while (performance.now() < deadline) {
      const start = performance.now();
      const f = await get(ctx.server.base, ctx.cookie, pathAndQuery);
      check(f);
      latencies.push(f.ms);
      ttfb.push(f.ttfbMs);
      bytes += f.bytes;
      first ??= f;
      await sleep(Math.max(0, o.intervalMs - (performance.now() - start)));
    }
  };
  await Promise.all(Array.from({ length: o.clients }, client));
  const cpu1 = ctx.server.cpuSeconds();
  return {
    ops: latencies.length,
    seconds: (performance.now() - t0) / 1000,
    latencies: Float64Array.from(latencies),
    ttfb: Float64Array.from(ttfb),
    bytes,
    first,
    cpuSeconds: cpu0 === null || cpu1 === null ? null : cpu1 - cpu0,
  };
}

export type HttpRow = LatencyStats & {
  scenario: string;
  requests: number;
  concurrency: number;
  reqPerSec: number;
  /** time to the response headers (a streamed page sends its shell first) */
  ttfbP50Ms: number;
  meanBytes: number;
  /** CPU time of the server per request (user + system, all its processes); null without /proc */
  serverCpuMsPerReq: number | null;
  /** "p99 < 50 ms: met" and the like, or "" */
  target: string;
};

/** One table row from one or more runs of a scenario (e.g. the two legs of an ABBA pair). */
export function httpRow(
  scenario: string,
  concurrency: number,
  runs: HttpRun[],
  target?: (r: HttpRow) => string,
): HttpRow {
  const requests = runs.reduce((s, r) => s + r.latencies.length, 0);
  const row: HttpRow = {
    scenario,
    requests,
    concurrency,
    ...latencyStats(runs.map((r) => r.latencies)),
    reqPerSec: requests / runs.reduce((s, r) => s + r.seconds, 0),
    ttfbP50Ms: percentile(sortedSamples(runs.map((r) => r.ttfb)), 0.5),
    meanBytes: Math.round(runs.reduce((s, r) => s + r.bytes, 0) / requests),
    serverCpuMsPerReq: runs.every((r) => r.cpuSeconds !== null)
      ? (runs.reduce((s, r) => s + (r.cpuSeconds as number), 0) * 1000) / requests
      : null,
    target: "",
  };
  row.target = target?.(row) ?? "";
  return row;
}

export function printHttpRows(rows: HttpRow[]): void {
  const header = ["scenario", "requests", "conc", "p50 ms", "p90 ms", "p99 ms", "mean ms", "max ms", "req/s", "bytes"];
  printTable(
    [...header, "server CPU ms/req", "target"],
    rows.map((r) => [
      r.scenario,
      String(r.requests),
      String(r.concurrency),
      ...[r.p50Ms, r.p90Ms, r.p99Ms, r.meanMs, r.maxMs, r.reqPerSec].map(f1),
      String(r.meanBytes),
      r.serverCpuMsPerReq === null ? "-" : f1(r.serverCpuMsPerReq),
      r.target || "-",
    ]),
    "lrrrrrrrrrrl",
  );
  console.log("");
  console.log("request = fetch() to the last byte of the body (one process, default keep-alive agent)");
  console.log("server CPU = user + system time of the server's process group (/proc) during the scenario, per request");
}

/** Bytes of the inline RSC payload (`<script>self.__next_f.push(…)</script>`) in a page. */
export function rscPayloadBytes(html: string): number {
  let n = 0;
  for (const m of html.matchAll(/<script\b[^>]*>self\.__next_f\.push\([\s\S]*?\)<\/script>/g))
    n += Buffer.byteLength(m[0]);
  return n;
}
