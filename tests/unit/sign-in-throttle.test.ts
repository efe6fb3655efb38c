import { describe, expect, it } from "vitest";

import {
  knownDeviceNonce,
  MAX_DEVICE_ENTRIES,
  newDeviceNonce,
  parseDeviceCookie,
  rememberDevice,
  serializeDeviceCookie,
} from "@/lib/auth/device-token";
import { backoffMs, decide, type ThrottleConfig } from "@/lib/auth/sign-in-throttle";

const cfg: ThrottleConfig = {
  free: 5,
  baseMs: 30_000,
  maxDelayMs: 900_000,
  pairTtlSeconds: 86_400,
  clientMax: 30,
  clientWindowSeconds: 900,
  accountMax: 100,
  accountWindowSeconds: 3600,
};
const idle = { pairN: 0, pairLast: 0, client: 0, clientTtlMs: 0, account: 0, accountTtlMs: 0 };

describe("sign-in back-off schedule", () => {
  it("is free for the first failures, then doubles from 30 s up to the cap", () => {
    expect([0, 4].map((n) => backoffMs(n, cfg))).toEqual([0, 0]);
    expect([5, 6, 7, 8, 9, 10, 11, 50, 5000].map((n) => backoffMs(n, cfg) / 1000)).toEqual([
      30, 60, 120, 240, 480, 900, 900, 900, 900,
    ]);
  });
});

describe("decide (the memory path's rule, same as the Lua script)", () => {
  const now = 1_000_000_000;

  it("waits out the pair's back-off from its last attempt", () => {
    expect(decide({ ...idle, pairN: 4, pairLast: now }, false, now, cfg)).toEqual({ allowed: true });
    expect(decide({ ...idle, pairN: 5, pairLast: now - 10_000 }, false, now, cfg)).toEqual({
      allowed: false,
      waitMs: 20_000,
      scope: "pair",
    });
    expect(decide({ ...idle, pairN: 5, pairLast: now - 30_000 }, false, now, cfg)).toEqual({ allowed: true });
  });

  it("applies the client and account limits to unrecognised devices only, reporting the longest wait", () => {
    const crowded = { ...idle, client: 30, clientTtlMs: 5_000, account: 100, accountTtlMs: 60_000 };
    expect(decide(crowded, false, now, cfg)).toEqual({ allowed: false, waitMs: 60_000, scope: "account" });
    expect(decide({ ...crowded, account: 99 }, false, now, cfg)).toEqual({
      allowed: false,
      waitMs: 5_000,
      scope: "client",
    });
    expect(decide(crowded, true, now, cfg)).toEqual({ allowed: true });
    expect(decide({ ...crowded, pairN: 6, pairLast: now }, true, now, cfg)).toEqual({
      allowed: false,
      waitMs: 60_000,
      scope: "pair",
    });
  });
});

// Guards the known-device exemption: only a token this server signed, for this account, counts.
describe("device tokens", () => {
  const secret = "s".repeat(40);

  it("round-trips entries and finds the nonce of an account", () => {
    const a = newDeviceNonce();
    const b = newDeviceNonce();
    const value = serializeDeviceCookie(rememberDevice(rememberDevice([], 7n, a), 9, b), secret);
    const parsed = parseDeviceCookie(value, secret);
    expect(parsed).toEqual([
      { userId: "9", nonce: b },
      { userId: "7", nonce: a },
    ]);
    expect(knownDeviceNonce(parsed, 7n)).toBe(a);
    expect(knownDeviceNonce(parsed, 8)).toBeNull();
  });

  it("drops forged, re-targeted and malformed entries", () => {
    const nonce = newDeviceNonce();
    const good = serializeDeviceCookie([{ userId: "7", nonce }], secret);
    expect(
      parseDeviceCookie(serializeDeviceCookie([{ userId: "7", nonce }], "other-secret-".repeat(4)), secret),
    ).toEqual([]);
    expect(parseDeviceCookie(good.replace(/^7\./, "8."), secret)).toEqual([]); // moved to another account
    expect(parseDeviceCookie(`garbage~${good}~1.2.3`, secret)).toEqual([{ userId: "7", nonce }]);
    expect(parseDeviceCookie(undefined, secret)).toEqual([]);
    expect(parseDeviceCookie("x".repeat(5000), secret)).toEqual([]);
  });

  it("keeps the newest accounts, one entry each", () => {
    let entries = rememberDevice([], 1, "n-1-aaaaaaaaaaaaaaaa");
    for (let id = 2; id <= 8; id++) entries = rememberDevice(entries, id, `n-${id}-aaaaaaaaaaaaaaaa`);
    entries = rememberDevice(entries, 5, "n-5-bbbbbbbbbbbbbbbb");
    expect(entries.map((e) => e.userId)).toEqual(["5", "8", "7", "6", "4"]);
    expect(entries).toHaveLength(MAX_DEVICE_ENTRIES);
  });
});
