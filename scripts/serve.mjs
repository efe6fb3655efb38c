// npm start — serve the production build (what `next start` does, through Next's custom-server API)
// on HOST (default 127.0.0.1) and PORT (default 3000). Usage: node scripts/serve.mjs [-p PORT] [-H HOST]
//
// Why not plain `next start`: the App Router cannot see the socket's peer address. Next copies it
// into X-Forwarded-For only when the request has no such header, so a client that sends one picks
// its own "IP". This server hands the real peer address to the app in a header whose name is
// random per process (QC_PEER_HEADER), set on every request, so no client can supply it.
// lib/auth/request-meta.ts reads it, and honours X-Forwarded-For only as TRUSTED_PROXIES allows.
import { randomBytes } from "node:crypto";
import http from "node:http";
import path from "node:path";
import compression from "compression";

const args = process.argv.slice(2);
const flag = (short, long) => {
  const i = args.findIndex((a) => a === short || a === long);
  return i >= 0 ? args[i + 1] : undefined;
};
const port = Number(flag("-p", "--port") ?? process.env.PORT ?? 3000);
const hostname = flag("-H", "--hostname") ?? process.env.HOST ?? "127.0.0.1";
const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");

process.env.NODE_ENV ??= "production";
const peerHeader = `x-qc-peer-${randomBytes(12).toString("hex")}`;
process.env.QC_PEER_HEADER = peerHeader;

// Imported after NODE_ENV is settled, as `next start` does.
const { default: next } = await import("next");
const app = next({ dev: false, dir: root, hostname, port });
const handle = app.getRequestHandler();
await app.prepare();

// Fast paths: pathname → node:http handler, registered by instrumentation.ts (lib/api/fast-path.ts:
// the polled quota read, compiled by `next build` from the modules its Next route uses, answered
// without Next's per-request machinery). Next runs instrumentation on its first request, so the
// map is looked up per request; until then Next's route answers, as it does for every other URL.
// Only the exact pathname (any query string) matches. QC_FAST_PATHS=off sends everything to Next.
const FAST_PATHS = Symbol.for("quota-console.fast-paths");
const fastPathsOn = process.env.QC_FAST_PATHS !== "off";

// Compression is done here, not by Next (next.config.ts: compress: false), for one reason: Next
// flushes the compressor after every chunk it writes (next/dist/server/pipe-readable.js), and a
// React render streams dozens of small chunks — each became its own gzip block, zlib call and
// socket write. The middleware Next bundles (expressjs/compression, default options: text types,
// a 1 KiB threshold, Vary; this version adds brotli at quality 4 for clients that accept it), but
// at most one flush per event-loop turn: what a render writes in one turn leaves together, and
// what it writes in a later turn (a Suspense boundary resolving) still leaves in that turn.
const compress = compression();

/** Replaces the flush compression() put on `res` with one that runs once per event-loop turn. */
function coalesceFlushes(res) {
  const flush = res.flush;
  if (typeof flush !== "function") return;
  let queued = false;
  res.flush = () => {
    if (queued) return;
    queued = true;
    setImmediate(() => {
      queued = false;
      flush.call(res); // after end(): a no-op (zlib's flush on an ended stream)
    });
  };
}

const server = http.createServer((req, res) => {
  const url = req.url ?? "/";
  const q = url.indexOf("?");
  const fast = fastPathsOn ? globalThis[FAST_PATHS]?.get(q < 0 ? url : url.slice(0, q)) : undefined;
  if (fast) return void fast(req, res);
  req.headers[peerHeader] = req.socket.remoteAddress ?? "";
  compress(req, res, () => {
    coalesceFlushes(res);
    void handle(req, res);
  });
});
server.on("error", (e) => {
  console.error(`[serve] ${e.message}`);
  process.exit(1);
});
server.listen(port, hostname, () => {
  const a = server.address();
  const shown =
    typeof a === "object" && a ? `${a.family === "IPv6" ? `[${a.address}]` : a.address}:${a.port}` : String(a);
  console.log(
    `[serve] listening on http://${shown}${hostname === "127.0.0.1" || hostname === "::1" || hostname === "localhost" ? " (local only; set HOST to listen elsewhere)" : ""}`,
  );
});

let closing = false;
const stop = () => {
  if (closing) return;
  closing = true;
  server.close(() => process.exit(0));
  server.closeIdleConnections?.();
  setTimeout(() => process.exit(0), 5_000).unref();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
