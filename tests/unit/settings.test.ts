import { describe, expect, it } from "vitest";

import { DEFAULT_PLATFORMS } from "@/lib/billing/platforms";
import { decodeQuotaMap, encodeQuotaMap, goJsonNumber } from "@/lib/settings/codec";
import { LimitSchema, parseLimitInput, quotaDefaultsFormSchema, quotaMapSchema } from "@/lib/settings/quota-schema";

const codes = (r: { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } }) =>
  r.success ? [] : r.error!.issues.map((i) => `${i.path.map(String).join(".")}:${i.message}`);

describe("limit validation (shared by form and server)", () => {
  it("accepts null, 0 and caps below 10^10 with up to 10 decimals; normalises -0", () => {
    for (const v of [null, 0, 0.01, 10, 9999999999.99, 0.0000000001, 1.1234567891])
      expect(LimitSchema.safeParse(v).success, String(v)).toBe(true);
    expect(Object.is(LimitSchema.parse(-0), 0)).toBe(true);
  });

  it.each([
    [-1, "NEGATIVE"],
    [1e12, "TOO_LARGE"],
    [1e10, "TOO_LARGE"],
    [0.123456789012, "TOO_MANY_DECIMALS"],
    [NaN, "NOT_FINITE"],
    [Infinity, "NOT_FINITE"],
    ["10", "NOT_A_NUMBER"],
    [true, "NOT_A_NUMBER"],
    [{}, "NOT_A_NUMBER"],
  ])("%s → %s", (v, code) => {
    expect(codes(LimitSchema.safeParse(v))).toEqual([`:${code}`]);
  });

  it("parses form text: blank = null, plain decimals only, the same codes", () => {
    expect(parseLimitInput("")).toEqual({ ok: true, value: null });
    expect(parseLimitInput(" 10 ")).toEqual({ ok: true, value: 10 });
    expect(parseLimitInput("0")).toEqual({ ok: true, value: 0 });
    expect(parseLimitInput(".5")).toEqual({ ok: true, value: 0.5 });
    expect(parseLimitInput("-1")).toEqual({ ok: false, code: "NEGATIVE" });
    expect(parseLimitInput("abc")).toEqual({ ok: false, code: "NOT_A_NUMBER" });
    expect(parseLimitInput("1e12")).toEqual({ ok: false, code: "NOT_A_NUMBER" });
    expect(parseLimitInput("1000000000000")).toEqual({ ok: false, code: "TOO_LARGE" });
    expect(parseLimitInput("0.123456789012")).toEqual({ ok: false, code: "TOO_MANY_DECIMALS" });
    expect(parseLimitInput("0.10000000000")).toEqual({ ok: false, code: "TOO_MANY_DECIMALS" }); // 11 typed decimals
  });
});

describe("quota maps", () => {
  // Guards against prototype pollution and unknown platforms sneaking into the settings JSON.
  it("refuses unknown platforms, __proto__-style keys and oversized maps; fills missing platforms", () => {
    expect(
      codes(quotaMapSchema(DEFAULT_PLATFORMS).safeParse({ mistral: { daily: 1, weekly: null, monthly: null } })),
    ).toEqual(["mistral:UNKNOWN_PLATFORM"]);
    const proto = JSON.parse('{"__proto__":{"daily":1,"weekly":null,"monthly":null}}');
    expect(codes(quotaMapSchema(DEFAULT_PLATFORMS).safeParse(proto))).toEqual(["__proto__:UNKNOWN_PLATFORM"]);
    expect(codes(quotaMapSchema(DEFAULT_PLATFORMS).safeParse({ constructor: {} }))).toEqual([
      "constructor:UNKNOWN_PLATFORM",
    ]);
    const many = Object.fromEntries(
      [...DEFAULT_PLATFORMS, "x1"].map((p) => [p, { daily: null, weekly: null, monthly: null }]),
    );
    expect(codes(quotaMapSchema(DEFAULT_PLATFORMS).safeParse(many))).toEqual(
      expect.arrayContaining([":TOO_MANY_PLATFORMS", "x1:UNKNOWN_PLATFORM"]),
    );
    const ok = quotaMapSchema(DEFAULT_PLATFORMS).parse({ openai: { daily: 0, weekly: null, monthly: 5 } });
    expect(Object.keys(ok)).toEqual([...DEFAULT_PLATFORMS]);
    expect(ok.openai).toEqual({ daily: 0, weekly: null, monthly: 5 });
    expect(ok.anthropic).toEqual({ daily: null, weekly: null, monthly: null });
    expect(Object.getPrototypeOf(ok)).toBe(Object.prototype);
  });

  it("reports the exact cell path of a bad value, and extra fields", () => {
    expect(
      codes(quotaMapSchema(DEFAULT_PLATFORMS).safeParse({ openai: { daily: -1, weekly: "x", monthly: null } })),
    ).toEqual(["openai.daily:NEGATIVE", "openai.weekly:NOT_A_NUMBER"]);
    expect(
      codes(
        quotaMapSchema(DEFAULT_PLATFORMS).safeParse({ openai: { daily: 1, weekly: null, monthly: null, yearly: 3 } }),
      )[0],
    ).toMatch(/^openai/);
  });

  it("the form schema requires all 7 sources and nothing else", () => {
    const source = { grantOnSignup: false, overrides: {} };
    const sources = Object.fromEntries(
      ["email", "linuxdo", "oidc", "wechat", "github", "google", "dingtalk"].map((s) => [s, source]),
    );
    expect(quotaDefaultsFormSchema(DEFAULT_PLATFORMS).safeParse({ version: "v", system: {}, sources }).success).toBe(
      true,
    );
    expect(
      quotaDefaultsFormSchema(DEFAULT_PLATFORMS).safeParse({
        version: "v",
        system: {},
        sources: { ...sources, qq: source },
      }).success,
    ).toBe(false);
    const six = { ...sources };
    delete six.email;
    expect(
      quotaDefaultsFormSchema(DEFAULT_PLATFORMS).safeParse({ version: "v", system: {}, sources: six }).success,
    ).toBe(false);
  });
});

describe("settings JSON, byte for byte as Go's json.Marshal", () => {
  it("sorts keys, writes daily/weekly/monthly in order, null for nil, Go number format", () => {
    expect(
      encodeQuotaMap({
        openai: { daily: 0, weekly: null, monthly: null },
        anthropic: { daily: 10, weekly: null, monthly: 100 },
      }),
    ).toBe('{"anthropic":{"daily":10,"weekly":null,"monthly":100},"openai":{"daily":0,"weekly":null,"monthly":null}}');
    expect(encodeQuotaMap({})).toBe("{}");
    expect(encodeQuotaMap({ grok: null })).toBe('{"grok":null}');
  });

  it("formats numbers like encoding/json (exponent only below 1e-6, 'e-7' not 'e-07')", () => {
    expect(goJsonNumber(10.5)).toBe("10.5");
    expect(goJsonNumber(0.000001)).toBe("0.000001");
    expect(goJsonNumber(0.0000001)).toBe("1e-7");
    expect(goJsonNumber(1.5e-10)).toBe("1.5e-10");
    expect(goJsonNumber(9999999999.9999)).toBe("9999999999.9999");
    expect(goJsonNumber(1e21)).toBe("1e+21");
  });

  it("reads like the gateway: missing fields nil, unknown platforms ignored, 0 preserved", () => {
    const d = decodeQuotaMap(
      '{"anthropic":{"daily":10.5},"openai":{"monthly":0},"mistral":{"daily":1},"grok":null}',
      DEFAULT_PLATFORMS,
    );
    expect(d.ok).toBe(true);
    expect(d.map.anthropic).toEqual({ daily: 10.5, weekly: null, monthly: null });
    expect(d.map.openai).toEqual({ daily: null, weekly: null, monthly: 0 });
    expect(Object.keys(d.map)).toEqual([...DEFAULT_PLATFORMS]);
    expect(decodeQuotaMap(null, DEFAULT_PLATFORMS)).toMatchObject({ ok: true, present: false });
    expect(decodeQuotaMap("{}", DEFAULT_PLATFORMS)).toMatchObject({ ok: true, present: true });
  });

  it("reports what Go could not unmarshal instead of reading it as unlimited", () => {
    for (const bad of [
      "not json",
      "[]",
      '"x"',
      '{"openai":{"daily":"10"}}',
      '{"openai":[1]}',
      '{"openai":{"daily":1e400}}',
    ]) {
      expect(decodeQuotaMap(bad, DEFAULT_PLATFORMS), bad).toMatchObject({ ok: false, present: true });
    }
  });
});
