import { describe, expect, it } from "vitest";

import {
  formatGoFloat,
  formatNullableFloat,
  formatNullableInstant,
  goParseFloat,
  goParseInt,
  parseGoFloat,
  parseGoInt,
  parseIntField,
  parseLimit,
  parseUnixSeconds,
  parseUsage,
  readQuotaInstant,
  readQuotaInt,
  readQuotaLimit,
  readQuotaUsage,
} from "@/lib/billing/encoding";
import { billingKeys, parseDirtyMember } from "@/lib/billing/keys";
import { signInThrottleKeys } from "@/lib/redis/keys";

import { floatInput, goVectors, type FloatVector } from "./fixtures/go-vectors";

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

const INT64_MAX = 9223372036854775807n;

function bitsOf(f: number): string {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, f);
  return `0x${dv.getBigUint64(0).toString(16).padStart(16, "0")}`;
}

/** Go's value as a number (its NaN payload differs from V8's, so NaN is compared as NaN). */
function goValue(v: FloatVector): number {
  if (v.value === "NaN") return NaN;
  const dv = new DataView(new ArrayBuffer(8));
  dv.setBigUint64(0, BigInt(v.bits));
  return dv.getFloat64(0);
}

const label = (s: string) =>
  s.length > 60 ? `${JSON.stringify(s.slice(0, 40))}…(${s.length} chars)` : JSON.stringify(s);

describe("goParseFloat = strconv.ParseFloat(s, 64), against real Go (tests/unit/fixtures/go-vectors.json)", () => {
  const { parseFloat: vectors } = goVectors();

  it(`matches every one of the ${vectors.length} vectors bit for bit, with the same error kind`, () => {
    expect(vectors.length).toBeGreaterThan(500);
    const wrong: string[] = [];
    for (const v of vectors) {
      const got = goParseFloat(floatInput(v));
      const sameValue = v.value === "NaN" ? Number.isNaN(got.value) : bitsOf(got.value) === v.bits;
      if (!sameValue || got.err !== (v.err ?? null)) {
        wrong.push(`${label(v.in)}: Go ${v.value} ${v.err ?? "ok"}, got ${got.value} ${got.err ?? "ok"}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it.each([
    ["0x1p-2", 0.25, null],
    ["0x1.8p1", 3, null],
    ["0X1P+2", 4, null],
    ["0x1", 0, "syntax"], // a hex mantissa needs a p exponent
    ["0x", 0, "syntax"],
    ["0x1p-1074", 5e-324, null],
    ["0x1p-1075", 0, null], // exactly half the smallest subnormal: ties to even → 0, no error
    ["0x1.0000000000001p-1075", 5e-324, null],
    ["0x1p1024", Infinity, "range"],
    ["0x1p-2000", 0, null], // underflow is not an error
    ["1e-400", 0, null],
    ["-1e-400", -0, null],
    ["1e400", Infinity, "range"],
    ["-1e400", -Infinity, "range"],
    ["1_000", 1000, null],
    ["0x_1p0", 1, null], // the base prefix counts as a digit
    ["1__000", 0, "syntax"],
    ["_1", 0, "syntax"],
    ["1_", 0, "syntax"],
    ["1_.5", 0, "syntax"],
    ["+Inf", Infinity, null],
    ["-infinity", -Infinity, null],
    ["infin", 0, "syntax"], // "inf" is a prefix, the rest is junk
    ["+nan", 0, "syntax"], // NaN takes no sign
    ["nan", NaN, null],
    [".5", 0.5, null],
    ["5.", 5, null],
    ["-0", -0, null],
    [" 1", 0, "syntax"], // no trimming
    ["1 ", 0, "syntax"],
    ["", 0, "syntax"],
  ] as const)("%j → %s (%s)", (s, value, err) => {
    const got = goParseFloat(s);
    expect(got.err).toBe(err);
    expect(got.value).toBe(value);
  });

  it("reproduces Go's slow-path quirks on absurdly long inputs (exponent cap, >800 integer digits)", () => {
    // Go stops reading exponent digits at 10000: 1 followed by 100000 zeros, times 1e-100000, is 0.
    expect(goParseFloat(`1${"0".repeat(100000)}e-100000`)).toEqual({ value: 0, err: null });
    // With more than 800 digits before the point Go's decimal slow path misplaces the point:
    // 10^1000 × 10^-600 = 1e400 should overflow, Go returns 1e199 and no error.
    expect(goParseFloat(`1${"0".repeat(1000)}e-600`)).toEqual({ value: 1e199, err: null });
  });

  it("canonical decimals (the fast path) equal Number(), which is correctly rounded as Go is", () => {
    let seed = 7;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 5000; i++) {
      const intLen = 1 + Math.floor(rand() * 12);
      const fracLen = Math.floor(rand() * 12);
      let s = rand() < 0.2 ? "-" : "";
      for (let j = 0; j < intLen; j++) s += Math.floor(rand() * 10);
      if (fracLen > 0) s += ".";
      for (let j = 0; j < fracLen; j++) s += Math.floor(rand() * 10);
      expect(goParseFloat(s), s).toEqual({ value: Number(s), err: null });
    }
  });
});

describe("goParseInt = strconv.ParseInt(s, 10, 64), against real Go", () => {
  const { parseInt: vectors } = goVectors();

  it.each(vectors.map((v) => [v.in, v.value, v.err ?? null] as const))("%j → %s (%s)", (s, value, err) => {
    const got = goParseInt(s);
    expect(got.value).toBe(BigInt(value));
    expect(got.err).toBe(err);
  });

  it("reports overflow before it looks at the rest, as Go does", () => {
    expect(goParseInt("99999999999999999999x")).toEqual({ value: INT64_MAX, err: "range" });
    expect(goParseInt("9223372036854775808x")).toEqual({ value: 0n, err: "syntax" }); // fits uint64 until the x
  });
});

// The canonical forms of what Go (FormatFloat 'f' -1, FormatInt) and Redis (HINCRBYFLOAT, HINCRBY) write.
const CANONICAL_USAGE = /^-?\d+(\.\d+)?$/;
const CANONICAL_LIMIT = /^\d+(\.\d+)?$/;
const CANONICAL_INT = /^-?\d+$/;

describe("quota hash readers = upstream parseUserPlatformQuotaHash, plus the malformed flag", () => {
  const { parseFloat: floats, parseInt: ints } = goVectors();
  const floatCases = floats.filter((v) => !v.build);

  it("usage: '' or any ParseFloat error → 0, else Go's value; canonical = ^-?\\d+(\\.\\d+)?$ finite", () => {
    for (const v of floatCases) {
      const got = readQuotaUsage(v.in);
      const want = v.err ? 0 : goValue(v);
      expect(got.value, label(v.in)).toBe(want);
      expect(got.malformed, label(v.in)).toBe(!(CANONICAL_USAGE.test(v.in) && !v.err));
    }
    expect(readQuotaUsage("")).toEqual({ value: 0, malformed: true }); // HINCRBYFLOAT fails on ""
    expect(readQuotaUsage(undefined)).toEqual({ value: 0, malformed: true });
    expect(readQuotaUsage("1e400")).toEqual({ value: 0, malformed: true }); // range error → 0, not +Inf
    expect(readQuotaUsage("0x1p-2")).toEqual({ value: 0.25, malformed: true }); // Go accepts hex
    expect(readQuotaUsage("inf")).toEqual({ value: Infinity, malformed: true }); // no error in Go
    expect(readQuotaUsage("3.00000000000000000017")).toEqual({ value: 3.0000000000000000002, malformed: false }); // HINCRBYFLOAT
    expect(readQuotaUsage("-0")).toEqual({ value: -0, malformed: false });
  });

  it("limit: '' → nil (not malformed), any ParseFloat error → nil, else Go's value; canonical = ^\\d+(\\.\\d+)?$ finite", () => {
    for (const v of floatCases) {
      const got = readQuotaLimit(v.in);
      const want = v.in === "" || v.err ? null : goValue(v);
      expect(got.value, label(v.in)).toBe(want);
      expect(got.malformed, label(v.in)).toBe(v.in !== "" && !(CANONICAL_LIMIT.test(v.in) && !v.err));
      expect(parseLimit(v.in)).toBe(want);
    }
    expect(readQuotaLimit("")).toEqual({ value: null, malformed: false });
    expect(readQuotaLimit(undefined)).toEqual({ value: null, malformed: true });
    expect(readQuotaLimit("0")).toEqual({ value: 0, malformed: false });
    expect(readQuotaLimit("20")).toEqual({ value: 20, malformed: false });
    expect(readQuotaLimit("1e400")).toEqual({ value: null, malformed: true });
    expect(readQuotaLimit("-5")).toEqual({ value: -5, malformed: true });
    expect(readQuotaLimit("inf")).toEqual({ value: Infinity, malformed: true }); // not nil: Go got no error
    expect(Number.isNaN(readQuotaLimit("NaN").value)).toBe(true);
  });

  it("window start: '' → nil, any ParseInt error → nil, else seconds → ms; canonical = ^-?\\d+$ in int64", () => {
    for (const v of ints) {
      const got = readQuotaInstant(v.in);
      const want = v.in === "" || v.err ? null : Number(BigInt(v.value)) * 1000;
      expect(got.value, label(v.in)).toBe(want);
      expect(got.malformed, label(v.in)).toBe(v.in !== "" && !(CANONICAL_INT.test(v.in) && !v.err));
      expect(parseUnixSeconds(v.in)).toBe(want);
    }
    expect(readQuotaInstant("1764172800")).toEqual({ value: 1764172800_000, malformed: false });
    expect(readQuotaInstant("")).toEqual({ value: null, malformed: false });
    expect(readQuotaInstant(undefined)).toEqual({ value: null, malformed: true });
    expect(readQuotaInstant("17.5")).toEqual({ value: null, malformed: true });
    expect(readQuotaInstant("-0").value).toBe(0);
  });

  it("version / schema_version: n, _ := ParseInt — syntax → 0, range → clamped; canonical = ^-?\\d+$ in int64", () => {
    for (const v of ints) {
      const got = readQuotaInt(v.in);
      expect(got.value, label(v.in)).toBe(Number(BigInt(v.value)));
      expect(got.malformed, label(v.in)).toBe(!(CANONICAL_INT.test(v.in) && !v.err));
    }
    expect(readQuotaInt("1")).toEqual({ value: 1, malformed: false });
    expect(readQuotaInt("1.0")).toEqual({ value: 0, malformed: true }); // a legacy schema_version
    expect(readQuotaInt("+1")).toEqual({ value: 1, malformed: true });
    expect(readQuotaInt("")).toEqual({ value: 0, malformed: true });
    expect(readQuotaInt(undefined)).toEqual({ value: 0, malformed: true });
    expect(readQuotaInt("99999999999999999999").value).toBe(Number(INT64_MAX));
    expect(readQuotaInt("99999999999999999999").value === 1).toBe(false);
  });
});

describe("other caches' readers keep Go's value on error (v, _ = ParseFloat / ParseInt)", () => {
  const { parseFloat: floats, parseInt: ints } = goVectors();

  it("parseUsage / parseGoFloat: syntax → 0 / null, overflow → ±Inf, else Go's value", () => {
    for (const v of floats.filter((f) => !f.build)) {
      expect(parseUsage(v.in), label(v.in)).toBe(goValue(v));
      expect(parseGoFloat(v.in), label(v.in)).toBe(v.err === "syntax" ? null : goValue(v));
    }
    expect(parseUsage(undefined)).toBe(0);
    expect(parseUsage("1e400")).toBe(Infinity);
    expect(parseUsage("abc")).toBe(0);
    expect(parseUsage("1e-05")).toBe(0.00001); // Lua tostring (%.14g) of a small cost
  });

  it("parseIntField / parseGoInt: Go's value (syntax → 0, range → clamped) / null on any error", () => {
    for (const v of ints) {
      expect(parseIntField(v.in), label(v.in)).toBe(Number(BigInt(v.value)));
      expect(parseGoInt(v.in), label(v.in)).toBe(v.err ? null : BigInt(v.value));
    }
    expect(parseIntField(undefined)).toBe(0);
    expect(parseIntField("99999999999999999999")).toBe(Number(INT64_MAX)); // ParseInt returns MaxInt64 with ErrRange
    expect(parseGoInt(undefined)).toBeNull();
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
    expect(billingKeys.userPlatformQuota(9007199254740993n, "x")).toBe(
      "billing:user_platform_quota:9007199254740993:x",
    );
    expect(() => billingKeys.balance(1.5)).toThrow();
    expect(signInThrottleKeys("u:7", "c:1.2.3.4", "1.2.3.4")).toEqual({
      pair: "qc:login:pair:u:7:c:1.2.3.4",
      client: "qc:login:fail:ip:1.2.3.4",
      account: "qc:login:fail:acct:u:7",
    });
  });

  it("parses dirty members like the flusher: split at the first ':', int64 head", () => {
    expect(parseDirtyMember("42:openai")).toEqual({ userId: 42, platform: "openai" });
    expect(parseDirtyMember("42:a:b")).toEqual({ userId: 42, platform: "a:b" });
    expect(parseDirtyMember("x:openai")).toBeNull();
    expect(parseDirtyMember("openai")).toBeNull();
    expect(parseDirtyMember(":openai")).toBeNull();
  });
});
