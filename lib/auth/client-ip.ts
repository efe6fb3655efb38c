import { BlockList, isIP } from "node:net";

/**
 * Which address is "the client" of a request, for per-client throttling and the session's `ip`.
 * Pure (no Next, no env) so every rule has a unit test (tests/unit/client-ip.test.ts).
 *
 * TRUSTED_PROXIES decides whether `X-Forwarded-For` is read at all:
 *  - unset / empty: never. The client is the socket peer (`scripts/serve.mjs` hands it to the app;
 *    see `peerAddress` in request-meta.ts). A client that sends the header gains nothing.
 *  - a hop count `N` (1–10): exactly N reverse proxies of yours sit in front and each appends the
 *    address it received the request from. The client is the N-th entry from the right; entries
 *    further left were written by the client itself and are ignored. (With fewer entries than N
 *    the left-most is taken, as Express' `trust proxy` does.)
 *  - a comma list of addresses / CIDRs (IPv4, IPv6, IPv4-mapped IPv6): the peer must be in the list
 *    for any entry to be read; then entries are walked from the right, skipping trusted proxies,
 *    and the first untrusted address is the client. A spoofed left part never wins because the
 *    walk stops at the first address our proxies did not vouch for.
 */
export type TrustedProxies =
  { kind: "none" } | { kind: "hops"; hops: number } | { kind: "cidrs"; list: BlockList; source: string };

export const MAX_PROXY_HOPS = 10;

/** Parse TRUSTED_PROXIES; throws an Error naming the bad part. */
export function parseTrustedProxies(raw: string | undefined): TrustedProxies {
  const value = (raw ?? "").trim();
  if (!value) return { kind: "none" };
  if (/^\d+$/.test(value)) {
    const hops = Number(value);
    if (hops < 1 || hops > MAX_PROXY_HOPS) throw new Error(`a hop count must be 1–${MAX_PROXY_HOPS}, got ${value}`);
    return { kind: "hops", hops };
  }
  const list = new BlockList();
  for (const part of value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [addrRaw, prefixRaw, extra] = part.split("/");
    const addr = normalizeAddress(addrRaw);
    if (extra !== undefined || !addr) throw new Error(`"${part}" is not an IP address or CIDR`);
    const family = isIP(addr) === 6 ? "ipv6" : "ipv4";
    const max = family === "ipv6" ? 128 : 32;
    let prefix = prefixRaw === undefined ? max : /^\d{1,3}$/.test(prefixRaw) ? Number(prefixRaw) : NaN;
    // `::ffff:10.0.0.0/104` means the IPv4 block 10.0.0.0/8 (the address was already unmapped).
    if (family === "ipv4" && isIP(addrRaw) === 6 && prefixRaw !== undefined) prefix -= 96;
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > max)
      throw new Error(`"${part}" has an invalid prefix length`);
    list.addSubnet(addr, prefix, family);
  }
  return { kind: "cidrs", list, source: value };
}

/**
 * An address as the app compares and stores it: brackets and a port removed, IPv4-mapped IPv6
 * (`::ffff:1.2.3.4`, `::ffff:102:304`) as plain IPv4, IPv6 lower-case and without a zone.
 * null when it is not an IP address at all.
 */
export function normalizeAddress(raw: string | null | undefined): string | null {
  let s = (raw ?? "").trim();
  if (!s) return null;
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(s);
  if (bracketed) s = bracketed[1];
  else if (/^[\d.]+:\d+$/.test(s)) s = s.slice(0, s.lastIndexOf(":")); // 1.2.3.4:5678
  s = s.replace(/%.*$/, "").toLowerCase();
  const family = isIP(s);
  if (family === 4) return s;
  if (family !== 6) return null;
  const groups = expandIPv6(s);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return [groups[6] >> 8, groups[6] & 255, groups[7] >> 8, groups[7] & 255].join(".");
  }
  return s;
}

/** The eight 16-bit groups of a valid IPv6 address (an embedded dotted IPv4 tail included). */
function expandIPv6(s: string): number[] {
  let text = s;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const o = v4[1].split(".").map(Number);
    text = text.slice(0, -v4[1].length) + `${((o[0] << 8) | o[1]).toString(16)}:${((o[2] << 8) | o[3]).toString(16)}`;
  }
  const [head, tail] = text.split("::");
  const h = head ? head.split(":") : [];
  const t = tail !== undefined && tail ? tail.split(":") : [];
  const fill = tail === undefined ? [] : Array<string>(8 - h.length - t.length).fill("0");
  return [...h, ...fill, ...t].map((g) => parseInt(g, 16));
}

/** The `X-Forwarded-For` entries, left to right (several header lines arrive comma-joined). */
export function forwardedEntries(header: string | null | undefined): string[] {
  return (header ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

function trusted(list: BlockList, addr: string): boolean {
  return list.check(addr, isIP(addr) === 6 ? "ipv6" : "ipv4");
}

/**
 * The client address under `trust`, from the socket peer (null when the server could not tell —
 * the app was not started through scripts/serve.mjs) and the raw `X-Forwarded-For` header.
 * "unknown" when neither gives an address: all such requests then count as one client.
 */
export function resolveClientAddress(
  trust: TrustedProxies,
  peerRaw: string | null,
  forwardedFor: string | null,
): string {
  const peer = normalizeAddress(peerRaw);
  if (trust.kind === "none") return peer ?? "unknown";
  const entries = forwardedEntries(forwardedFor);
  if (trust.kind === "hops") {
    if (!entries.length) return peer ?? "unknown";
    const entry = entries[Math.max(0, entries.length - trust.hops)];
    return normalizeAddress(entry) ?? sanitizeToken(entry);
  }
  if (!peer || !trusted(trust.list, peer)) return peer ?? "unknown";
  let client = peer;
  for (let i = entries.length - 1; i >= 0; i--) {
    const addr = normalizeAddress(entries[i]);
    // Written by a proxy we trust, but not an address (nginx's "unknown", a unix socket): that hop
    // is the client as far as anyone can tell.
    if (!addr) return sanitizeToken(entries[i]);
    client = addr;
    if (!trusted(trust.list, addr)) return addr;
  }
  return client;
}

/** A non-address token as a bounded, printable key part. */
function sanitizeToken(s: string): string {
  return `?${s.replace(/[^\w.:-]/g, "_").slice(0, 40)}`;
}

/**
 * The key one client is throttled under: an IPv4 address as it is, an IPv6 address by its /64
 * (one customer's allocation — rotating inside it must not buy fresh tries).
 */
export function clientThrottleKey(address: string): string {
  if (isIP(address) !== 6) return address;
  const g = expandIPv6(address);
  return `${g
    .slice(0, 4)
    .map((x) => x.toString(16))
    .join(":")}::/64`;
}
