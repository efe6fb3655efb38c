import { describe, expect, it } from "vitest";

import { contentSecurityPolicy, newNonce, securityHeaders } from "@/lib/security/headers";

/** The policy proxy.ts puts on every response (the HTTP-level checks are tests/e2e/security-headers.test.ts). */
const directives = (csp: string) => new Map(csp.split("; ").map((d) => [d.split(" ")[0], d.split(" ").slice(1)]));

describe("security headers", () => {
  it("nonces are 128 random bits, never repeated", () => {
    const seen = new Set(Array.from({ length: 1000 }, newNonce));
    expect(seen.size).toBe(1000);
    for (const n of seen) expect(Buffer.from(n, "base64")).toHaveLength(16);
  });

  // Guards against a policy that lets an injected inline script run in production.
  it("production: scripts only with the nonce (no unsafe-inline, no unsafe-eval); <style> only with the nonce", () => {
    const d = directives(contentSecurityPolicy({ nonce: "abc", dev: false, secure: true }));
    expect(d.get("script-src")).toEqual(["'self'", "'nonce-abc'", "'strict-dynamic'"]);
    expect(d.get("style-src")).toEqual(["'self'", "'nonce-abc'"]);
    expect(d.get("style-src-attr")).toEqual(["'unsafe-inline'"]);
    expect(d.get("frame-ancestors")).toEqual(["'none'"]);
    expect(d.get("object-src")).toEqual(["'none'"]);
  });

  it("next dev adds eval (React's dev error stacks) and inline styles (hot reload)", () => {
    const d = directives(contentSecurityPolicy({ nonce: "abc", dev: true, secure: false }));
    expect(d.get("script-src")).toEqual(["'self'", "'nonce-abc'", "'strict-dynamic'", "'unsafe-eval'"]);
    expect(d.get("style-src")).toEqual(["'self'", "'unsafe-inline'"]);
  });

  it("HSTS only when cookies are Secure", () => {
    expect(securityHeaders({ nonce: "n", dev: false, secure: true })["Strict-Transport-Security"]).toBe(
      "max-age=63072000; includeSubDomains",
    );
    expect(securityHeaders({ nonce: "n", dev: false, secure: false })).not.toHaveProperty("Strict-Transport-Security");
  });
});
