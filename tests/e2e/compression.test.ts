import zlib from "node:zlib";
import { describe, expect, inject, it } from "vitest";

import { rawRequest } from "../support/net";

/**
 * Compression of the production server (scripts/serve.mjs; next.config.ts has compress: false):
 * a streamed page and a route handler's JSON are compressed as the client accepts (br, gzip,
 * deflate), with Vary: Accept-Encoding, and served as-is when it accepts none; the compressed bytes
 * decode to the same document.
 * Requests go through node:http with exactly the headers given (rawRequest: fetch would decode).
 */
const base = inject("baseURL");

const raw = (path: string, headers: Record<string, string>) => rawRequest(base, path, { headers });

const decode: Record<string, (b: Buffer) => Buffer> = {
  br: zlib.brotliDecompressSync,
  gzip: zlib.gunzipSync,
  deflate: zlib.inflateSync,
};
/** The document with its per-response nonce (in attributes and in the RSC payload) replaced by "N". */
const noNonce = (s: string) => {
  const nonce = /nonce="([^"]+)"/.exec(s)?.[1];
  expect(nonce).toBeTruthy();
  return s.split(nonce as string).join("N");
};

describe("compression (scripts/serve.mjs)", () => {
  it("serves a streamed page compressed as the client accepts it (br over gzip over deflate), the same document as uncompressed", async () => {
    const plain = await raw("/en/sign-in", {});
    expect(plain.status).toBe(200);
    expect(plain.headers["content-encoding"]).toBeUndefined();
    const text = plain.body.toString("utf8");
    expect(text).toMatch(/^<!DOCTYPE html>/);
    expect(text).toMatch(/<\/html>$/);
    for (const [accept, encoding] of [
      ["gzip, deflate, br, zstd", "br"],
      ["gzip, deflate", "gzip"],
      ["deflate", "deflate"],
    ] as const) {
      const res = await raw("/en/sign-in", { "accept-encoding": accept });
      expect(res.status).toBe(200);
      expect(res.headers["content-encoding"], accept).toBe(encoding);
      expect(String(res.headers.vary)).toMatch(/accept-encoding/i);
      expect(res.body.length, accept).toBeLessThan(plain.body.length / 2);
      expect(noNonce(decode[encoding](res.body).toString("utf8")), accept).toBe(noNonce(text));
    }
  });

  it("compresses a route handler's JSON too", async () => {
    const res = await raw("/api/health", { "accept-encoding": "gzip" });
    expect(res.status).toBe(200);
    expect(res.headers["content-encoding"]).toBe("gzip");
    expect(JSON.parse(zlib.gunzipSync(res.body).toString("utf8"))).toHaveProperty("status");
  });
});
