import { describe, expect, it } from "vitest";
import {
  formatGoFloat,
  formatNullableFloat,
  formatNullableInstant,
  parseGoFloat,
  parseIntField,
  parseLimit,
  parseUnixSeconds,
  parseUsage,
} from "@/lib/billing/encoding";
import { billingKeys, loginFailureKeys, parseDirtyMember } from "@/lib/redis/keys";

describe("formatGoFloat = strconv.FormatFloat(f, 'f', -1, 64)", () => {
  it.each([
    [0, "0"],
    [-0, "-0"],
    [0.5, "0.5"],
    [10, "10"],
    [10.5, "10.5"],
    [0.1 + 0.2, "0.30000000000000004"],
    [1e-7, "0.0000001"],
    [1.5e-7, "0.00000015"],
    [1e-6, "0.000001"],
    [123456789e-15, "0.000000123456789"],
    [5e-324, `0.${"0".repeat(323)}5`],
    [1e20, "100000000000000000000"],
    [1e21, "1000000000000000000000"],
    [1.2345e25, "12345000000000000000000000"],
    [-2.5e-8, "-0.000000025"],
    [9999999999.9999999999, "10000000000"],
    [1797.6931348623157e305, `17976931348623157${"0".repeat(292)}`],
    [NaN, "NaN"],
    [Infinity, "+Inf"],
    [-Infinity, "-Inf"],
  ])("%s → %s", (n, s) => {
    expect(formatGoFloat(n)).toBe(s);
  });

  it("round-trips random doubles with no exponent", () => {
    for (let i = 0; i < 2000; i++) {
      const n = (Math.random() - 0.5) * 10 ** Math.floor(Math.random() * 40 - 20);
      const s = formatGoFloat(n);
      expect(s).not.toMatch(/e/i);
      expect(Number(s)).toBe(n);
    }
  });
});

describe("readers mirror Go's parse failures", () => {
  it("usage: '' and junk → 0; Redis HINCRBYFLOAT output parses", () => {
    expect(parseUsage("")).toBe(0);
    expect(parseUsage(undefined)).toBe(0);
    expect(parseUsage("abc")).toBe(0);
    expect(parseUsage(" 1")).toBe(0); // Go does not trim
    expect(parseUsage("0x10")).toBe(0);
    expect(parseUsage("0.75")).toBe(0.75);
    expect(parseUsage("3.00000000000000000017")).toBe(3.0000000000000000002);
    expect(parseUsage("1e3")).toBe(1000);
    expect(parseUsage("1e400")).toBe(Infinity); // ParseFloat returns +Inf with ErrRange; Go ignores the error here
  });

  it("limit: '' → nil (unlimited); unparsable or out of range → nil; 0 stays 0", () => {
    expect(parseLimit("")).toBeNull();
    expect(parseLimit("x")).toBeNull();
    expect(parseLimit("1e400")).toBeNull();
    expect(parseLimit("0")).toBe(0);
    expect(parseLimit("20")).toBe(20);
    expect(parseGoFloat("-Inf")).toBe(-Infinity);
    expect(Number.isNaN(parseGoFloat("nan"))).toBe(true);
  });

  it("ints and instants: base-10 only, else 0 / nil", () => {
    expect(parseIntField("1")).toBe(1);
    expect(parseIntField("1.0")).toBe(0); // ParseInt rejects it → a legacy schema_version
    expect(parseIntField("")).toBe(0);
    expect(parseIntField("99999999999999999999")).toBe(0); // out of int64
    expect(parseUnixSeconds("1764172800")).toBe(1764172800_000);
    expect(parseUnixSeconds("")).toBeNull();
    expect(parseUnixSeconds("17.5")).toBeNull();
  });

  it("nullable writers: '' for nil, Unix seconds (floored) for instants", () => {
    expect(formatNullableFloat(null)).toBe("");
    expect(formatNullableFloat(0)).toBe("0");
    expect(formatNullableInstant(null)).toBe("");
    expect(formatNullableInstant(1764172800_999)).toBe("1764172800");
    expect(formatNullableInstant(-1500)).toBe("-2");
  });
});

describe("Redis keys (fixed by the gateway)", () => {
  it("builds the exact strings", () => {
    expect(billingKeys.userPlatformQuota(42, "anthropic")).toBe("billing:user_platform_quota:42:anthropic");
    expect(billingKeys.dirtySet).toBe("billing:upq:dirty");
    expect(billingKeys.dirtyMember(42, "openai")).toBe("42:openai");
    expect(billingKeys.balance(7)).toBe("billing:balance:7");
    expect(billingKeys.subscription(7, 3)).toBe("billing:sub:7:3");
    expect(billingKeys.apiKeyRateLimit(9)).toBe("apikey:rate:9");
    expect(billingKeys.userPlatformQuota(9007199254740993n, "x")).toBe("billing:user_platform_quota:9007199254740993:x");
    expect(() => billingKeys.balance(1.5)).toThrow();
    expect(loginFailureKeys("abc", "1.2.3.4")).toEqual({ account: "qc:login:fail:acct:abc", ip: "qc:login:fail:ip:1.2.3.4" });
  });

  it("parses dirty members like the flusher: split at the first ':', int64 head", () => {
    expect(parseDirtyMember("42:openai")).toEqual({ userId: 42, platform: "openai" });
    expect(parseDirtyMember("42:a:b")).toEqual({ userId: 42, platform: "a:b" });
    expect(parseDirtyMember("x:openai")).toBeNull();
    expect(parseDirtyMember("openai")).toBeNull();
    expect(parseDirtyMember(":openai")).toBeNull();
  });
});
