import net from "node:net";

/** A TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it; the probe is closed). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** True when something accepts a TCP connection at the URL's host and port (within 1 s). */
export function reachable(url: string, defaultPort: number): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const s = net.connect(Number(u.port || defaultPort), u.hostname.replace(/^\[|\]$/g, ""), () => {
      s.end();
      resolve(true);
    });
    s.on("error", () => resolve(false));
    s.setTimeout(1000, () => {
      s.destroy();
      resolve(false);
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls until `probe` is true, or throws `what` after `timeoutMs`. */
export async function waitUntil(probe: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`${what} within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/**
 * Polls GET /api/health until the server answers with an accepted status (default 200 or 503, so a
 * server whose database is down counts as started), or throws after `timeoutMs` — at once when
 * `exited()` says the server process is gone. Returns the response body (JSON, or null).
 */
export async function waitForHealth(
  baseURL: string,
  timeoutMs: number,
  o: { accept?: number[]; exited?: () => string | null } = {},
): Promise<unknown> {
  const accept = o.accept ?? [200, 503];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const gone = o.exited?.();
    if (gone !== null && gone !== undefined) throw new Error(`the server exited before it was healthy:\n${gone}`);
    try {
      const res = await fetch(`${baseURL}/api/health`, { signal: AbortSignal.timeout(2000) });
      if (accept.includes(res.status)) return await res.json().catch(() => null);
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${baseURL} did not become healthy within ${timeoutMs} ms`);
    await sleep(250);
  }
}
