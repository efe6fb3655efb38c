import { describe, expect, it } from "vitest";

import {
  BILLING_CACHE_JITTER_MS,
  BILLING_CACHE_TTL_MS,
  goRedisSetExpiry,
  jitteredTtlMs,
  jitteredTtlSeconds,
  RATE_LIMIT_CACHE_TTL_SECONDS,
} from "@/lib/billing/ttl";

describe("billing cache TTLs (gateway jitteredTTL)", () => {
  it("keeps the gateway's constants", () => {
    expect(BILLING_CACHE_TTL_MS).toBe(300_000);
    expect(BILLING_CACHE_JITTER_MS).toBe(30_000);
    expect(RATE_LIMIT_CACHE_TTL_SECONDS).toBe(604_800);
  });

  it("never exceeds 5 minutes: random 0 gives exactly 300 s", () => {
    expect(jitteredTtlMs(() => 0)).toBe(300_000);
    expect(jitteredTtlSeconds(() => 0)).toBe(300);
  });

  it("stays above 270 s at the top of the jitter and truncates to 270 whole seconds", () => {
    expect(jitteredTtlMs(() => 0.999999)).toBe(270_001);
    expect(jitteredTtlSeconds(() => 0.999999)).toBe(270);
  });

  it("truncates rather than rounds, as Go's int(d.Seconds())", () => {
    expect(jitteredTtlMs(() => 0.5 / 30_000)).toBe(300_000); // jitter floors to 0 ms
    expect(jitteredTtlSeconds(() => 1 / 30_000)).toBe(299); // 299.999 s → 299
  });

  it("lands in (270 s, 300 s] for real randomness", () => {
    for (let i = 0; i < 1000; i++) {
      const ms = jitteredTtlMs();
      expect(ms).toBeGreaterThan(270_000);
      expect(ms).toBeLessThanOrEqual(300_000);
      expect(Number.isInteger(ms)).toBe(true);
      const s = jitteredTtlSeconds();
      expect(s).toBeGreaterThanOrEqual(270);
      expect(s).toBeLessThanOrEqual(300);
    }
  });

  it("picks SET's expiry unit like go-redis: EX for whole seconds, PX otherwise", () => {
    expect(goRedisSetExpiry(300_000)).toEqual(["EX", 300]);
    expect(goRedisSetExpiry(270_001)).toEqual(["PX", 270_001]);
    expect(goRedisSetExpiry(500)).toEqual(["PX", 500]);
  });
});
