import { describe, expect, it } from "vitest";

import { clientThrottleKey, normalizeAddress, parseTrustedProxies, resolveClientAddress } from "@/lib/auth/client-ip";

// Guards the per-client sign-in limits: a client must not be able to choose the address it is
// counted under by sending X-Forwarded-For (issue 10, finding 3).
const none = parseTrustedProxies(undefined);

describe("TRUSTED_PROXIES unset", () => {
  it("ignores X-Forwarded-For entirely: the socket peer is the client", () => {
    expect(none).toEqual({ kind: "none" });
    expect(parseTrustedProxies("  ")).toEqual({ kind: "none" });
    expect(resolveClientAddress(none, "198.51.100.7", "203.0.113.1")).toBe("198.51.100.7");
    expect(resolveClientAddress(none, "198.51.100.7", "203.0.113.1, 203.0.113.2")).toBe("198.51.100.7");
    expect(resolveClientAddress(none, "::ffff:127.0.0.1", "10.0.0.9")).toBe("127.0.0.1");
  });

  it("counts requests whose peer is unknown as one client, never as the header's value", () => {
    expect(resolveClientAddress(none, null, "203.0.113.1")).toBe("unknown");
    expect(resolveClientAddress(none, "", null)).toBe("unknown");
  });
});

describe("a hop count", () => {
  const one = parseTrustedProxies("1");
  const two = parseTrustedProxies("2");

  it("takes the N-th entry from the right, whatever the client prepended", () => {
    expect(one).toEqual({ kind: "hops", hops: 1 });
    expect(resolveClientAddress(one, "10.0.0.2", "203.0.113.9")).toBe("203.0.113.9");
    expect(resolveClientAddress(one, "10.0.0.2", "1.1.1.1, 2.2.2.2, 203.0.113.9")).toBe("203.0.113.9");
    expect(resolveClientAddress(two, "10.0.0.3", "1.1.1.1, 203.0.113.9, 10.0.0.2")).toBe("203.0.113.9");
  });

  it("uses the left-most entry when the chain is shorter, and the peer without a header", () => {
    expect(resolveClientAddress(two, "10.0.0.3", "203.0.113.9")).toBe("203.0.113.9");
    expect(resolveClientAddress(one, "10.0.0.3", null)).toBe("10.0.0.3");
  });

  it("normalises the chosen entry (port, brackets, IPv4-mapped)", () => {
    expect(resolveClientAddress(one, "10.0.0.2", "203.0.113.9:51234")).toBe("203.0.113.9");
    expect(resolveClientAddress(one, "10.0.0.2", "[2001:DB8::5]:443")).toBe("2001:db8::5");
    expect(resolveClientAddress(one, "10.0.0.2", "::ffff:203.0.113.9")).toBe("203.0.113.9");
  });

  it("rejects 0 and absurd counts", () => {
    expect(() => parseTrustedProxies("0")).toThrow(/1–10/);
    expect(() => parseTrustedProxies("11")).toThrow(/1–10/);
  });
});

describe("a CIDR list", () => {
  const trust = parseTrustedProxies("10.0.0.0/8, 192.168.1.5, fd00::/8, ::ffff:172.16.0.0/108");

  it("reads the header only when the peer is a trusted proxy", () => {
    expect(resolveClientAddress(trust, "198.51.100.7", "203.0.113.1")).toBe("198.51.100.7");
    expect(resolveClientAddress(trust, "10.1.2.3", "203.0.113.1")).toBe("203.0.113.1");
    expect(resolveClientAddress(trust, "192.168.1.5", "203.0.113.1")).toBe("203.0.113.1");
    expect(resolveClientAddress(trust, "192.168.1.6", "203.0.113.1")).toBe("192.168.1.6");
  });

  it("walks right to left past trusted proxies; spoofed entries further left never win", () => {
    expect(resolveClientAddress(trust, "10.0.0.1", "6.6.6.6, 203.0.113.1, 10.9.9.9")).toBe("203.0.113.1");
    expect(resolveClientAddress(trust, "10.0.0.1", "10.0.0.8, 203.0.113.1")).toBe("203.0.113.1");
    // The client claims to be a trusted proxy: only what our proxy appended counts.
    expect(resolveClientAddress(trust, "10.0.0.1", "10.0.0.77, 203.0.113.1")).toBe("203.0.113.1");
  });

  it("matches IPv6 and IPv4-mapped peers and entries", () => {
    expect(resolveClientAddress(trust, "fd12:3456::1", "2001:db8::42")).toBe("2001:db8::42");
    expect(resolveClientAddress(trust, "::ffff:10.0.0.1", "203.0.113.1")).toBe("203.0.113.1");
    expect(resolveClientAddress(trust, "::ffff:a00:1", "203.0.113.1")).toBe("203.0.113.1");
    // ::ffff:172.16.0.0/108 is the IPv4 block 172.16.0.0/12.
    expect(resolveClientAddress(trust, "172.31.255.1", "203.0.113.1")).toBe("203.0.113.1");
    expect(resolveClientAddress(trust, "172.32.0.1", "203.0.113.1")).toBe("172.32.0.1");
    expect(resolveClientAddress(trust, "2001:db8::1", "203.0.113.1")).toBe("2001:db8::1");
  });

  it("falls back to the last trusted hop when every entry is trusted, or to a marked token", () => {
    expect(resolveClientAddress(trust, "10.0.0.1", "10.0.0.2")).toBe("10.0.0.2");
    expect(resolveClientAddress(trust, "10.0.0.1", null)).toBe("10.0.0.1");
    expect(resolveClientAddress(trust, "10.0.0.1", "unknown")).toBe("?unknown");
  });

  it("does not trust a peer it cannot see", () => {
    expect(resolveClientAddress(trust, null, "203.0.113.1")).toBe("unknown");
  });

  it("names the bad part of a malformed list", () => {
    expect(() => parseTrustedProxies("10.0.0.0/8, example.com")).toThrow(/example\.com/);
    expect(() => parseTrustedProxies("10.0.0.0/33")).toThrow(/prefix/);
    expect(() => parseTrustedProxies("10.0.0.0/8/1")).toThrow(/not an IP/);
  });
});

describe("addresses and throttle keys", () => {
  it("normalises forms of one address to one string", () => {
    expect(normalizeAddress("::FFFF:127.0.0.1")).toBe("127.0.0.1");
    expect(normalizeAddress("[::1]")).toBe("::1");
    expect(normalizeAddress("fe80::1%eth0")).toBe("fe80::1");
    expect(normalizeAddress("not-an-ip")).toBeNull();
    expect(normalizeAddress("")).toBeNull();
  });

  it("groups IPv6 clients by /64 and keeps IPv4 whole", () => {
    expect(clientThrottleKey("2001:db8:1:2:aaaa::1")).toBe("2001:db8:1:2::/64");
    expect(clientThrottleKey("2001:db8:1:2:ffff:ffff:ffff:ffff")).toBe("2001:db8:1:2::/64");
    expect(clientThrottleKey("::1")).toBe("0:0:0:0::/64");
    expect(clientThrottleKey("203.0.113.9")).toBe("203.0.113.9");
    expect(clientThrottleKey("unknown")).toBe("unknown");
  });
});
