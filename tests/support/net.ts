import http from "node:http";

export { freePort, waitForHealth } from "@/scripts/lib/net";

export type RawResponse = { status: number; headers: Record<string, string>; body: Buffer };

/**
 * One request through node:http with exactly the headers given — fetch would add Accept-Encoding
 * and decode the body on its own — answering the status, the headers (names lowercased) and the
 * body's bytes as they came.
 */
export function rawRequest(
  base: string,
  path: string,
  opts: { method?: string; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  const u = new URL(path, base);
  return new Promise<RawResponse>((resolve, reject) => {
    const req = http.request(
      { host: u.hostname, port: u.port, path: path, method: opts.method ?? "GET", headers: opts.headers ?? {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (d: Buffer) => chunks.push(d));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers as Record<string, string>,
            body: Buffer.concat(chunks),
          }),
        );
      },
    );
    req.on("error", reject);
    req.end();
  });
}
