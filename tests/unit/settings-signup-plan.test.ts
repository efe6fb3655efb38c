import { beforeEach, describe, expect, it, vi } from "vitest";

import { AUTH_SOURCES, type AuthSource } from "@/lib/auth-sources";
import { DEFAULT_PLATFORMS } from "@/lib/billing/platforms";
import { decodeQuotaMap } from "@/lib/settings/codec";
import { emptyQuotaMap, QUOTA_WINDOWS, type QuotaMap } from "@/lib/settings/quota-schema";
import {
  fitDecimal,
  MAX_ROW_LIMIT,
  planSignupDefaults,
  reportSignupFallbacks,
  settingsHealth,
  signupDefaultsFallbacks,
  type SignupDefaultsInput,
} from "@/lib/settings/signup-plan";

/** The sign-up plan: merge (spec §2.2/§2.5) plus the fallback policy of lib/settings/signup-plan.ts. */

const SYS = "default_platform_quotas";
const key = (s: AuthSource) => `auth_source_default_${s}_platform_quotas`;

function input(
  patch: { system?: QuotaMap; systemUnreadable?: boolean; sources?: Partial<SignupDefaultsInput["sources"]> } = {},
): SignupDefaultsInput {
  const sources = Object.fromEntries(
    AUTH_SOURCES.map((s) => [
      s,
      { grantOnSignup: false, overrides: emptyQuotaMap(DEFAULT_PLATFORMS), unreadable: false },
    ]),
  ) as SignupDefaultsInput["sources"];
  return {
    platforms: DEFAULT_PLATFORMS,
    system: patch.system ?? emptyQuotaMap(DEFAULT_PLATFORMS),
    systemUnreadable: patch.systemUnreadable ?? false,
    sources: { ...sources, ...patch.sources },
  };
}

const system = emptyQuotaMap(DEFAULT_PLATFORMS);
system.anthropic = { daily: 10, weekly: null, monthly: 100 };
system.openai = { daily: 5, weekly: 20, monthly: null };
const overrides = emptyQuotaMap(DEFAULT_PLATFORMS);
overrides.openai = { daily: null, weekly: 0, monthly: 0 };
overrides.anthropic = { daily: 3, weekly: null, monthly: null };

const everyCell = (plan: ReturnType<typeof planSignupDefaults>) =>
  DEFAULT_PLATFORMS.flatMap((p) => QUOTA_WINDOWS.map((w) => plan.cells[p][w]));

describe("merge (no fallback)", () => {
  it("a granted override replaces the system value field by field; null inherits; 0 overrides", () => {
    const plan = planSignupDefaults(
      input({ system, sources: { linuxdo: { grantOnSignup: true, overrides, unreadable: false } } }),
      "linuxdo",
    );
    expect(plan.cells.openai).toEqual({
      daily: { limit: "5", origin: "system", key: SYS, fallback: null },
      weekly: { limit: "0", origin: "source", key: key("linuxdo"), fallback: null },
      monthly: { limit: "0", origin: "source", key: key("linuxdo"), fallback: null },
    });
    expect(plan.limits.anthropic).toEqual({ daily: "3", weekly: null, monthly: "100" });
    expect(plan.limits.gemini).toEqual({ daily: null, weekly: null, monthly: null });
    expect(Object.keys(plan.limits)).toEqual([...DEFAULT_PLATFORMS]);
    expect(plan.fallbacks).toEqual([]);
  });

  it("a source whose switch is off gets exactly the system default", () => {
    const plan = planSignupDefaults(
      input({ system, sources: { linuxdo: { grantOnSignup: false, overrides, unreadable: false } } }),
      "linuxdo",
    );
    expect(plan.limits.anthropic).toEqual({ daily: "10", weekly: null, monthly: "100" });
    expect(plan.limits.openai).toEqual({ daily: "5", weekly: "20", monthly: null });
    expect(everyCell(plan).every((c) => c.origin === "system")).toBe(true);
  });

  it("normal values pass through as Go's shortest plain decimal (10 decimals and 9999999999.99 fit)", () => {
    const s = emptyQuotaMap(DEFAULT_PLATFORMS);
    s.grok = { daily: 0.0000000001, weekly: 1.1234567891, monthly: 9999999999.99 };
    const plan = planSignupDefaults(input({ system: s }), "email");
    expect(plan.limits.grok).toEqual({ daily: "0.0000000001", weekly: "1.1234567891", monthly: "9999999999.99" });
    expect(plan.fallbacks).toEqual([]);
  });
});

describe("an unreadable system map", () => {
  it("disables every platform × window (never unlimited), reported once with its key", () => {
    const plan = planSignupDefaults(input({ systemUnreadable: true }), "email");
    for (const c of everyCell(plan))
      expect(c).toEqual({ limit: "0", origin: "system", key: SYS, fallback: "unreadable" });
    expect(plan.fallbacks).toEqual([{ kind: "unreadable", key: SYS, cells: DEFAULT_PLATFORMS.length * 3 }]);
  });

  it("a granted, readable source override still supplies the cells it sets", () => {
    const plan = planSignupDefaults(
      input({ systemUnreadable: true, sources: { linuxdo: { grantOnSignup: true, overrides, unreadable: false } } }),
      "linuxdo",
    );
    expect(plan.limits.anthropic).toEqual({ daily: "3", weekly: "0", monthly: "0" });
    expect(plan.cells.anthropic.daily).toMatchObject({ origin: "source", fallback: null });
    expect(plan.cells.anthropic.weekly).toMatchObject({ origin: "system", fallback: "unreadable" });
    expect(plan.limits.openai).toEqual({ daily: "0", weekly: "0", monthly: "0" });
    expect(plan.fallbacks).toEqual([{ kind: "unreadable", key: SYS, cells: DEFAULT_PLATFORMS.length * 3 - 3 }]);
  });
});

describe("an unreadable source map", () => {
  it("granted: that source's users get 0 everywhere, even where the system has a looser value", () => {
    const plan = planSignupDefaults(
      input({
        system,
        sources: { github: { grantOnSignup: true, overrides: emptyQuotaMap(DEFAULT_PLATFORMS), unreadable: true } },
      }),
      "github",
    );
    for (const c of everyCell(plan))
      expect(c).toEqual({ limit: "0", origin: "source", key: key("github"), fallback: "unreadable" });
    expect(plan.fallbacks).toEqual([{ kind: "unreadable", key: key("github"), cells: DEFAULT_PLATFORMS.length * 3 }]);
    // Other sources are unaffected.
    expect(
      planSignupDefaults(
        input({
          system,
          sources: { github: { grantOnSignup: true, overrides: emptyQuotaMap(DEFAULT_PLATFORMS), unreadable: true } },
        }),
        "email",
      ).fallbacks,
    ).toEqual([]);
  });

  it("granted and the system unreadable too: only the source's key is the reason", () => {
    const plan = planSignupDefaults(
      input({
        systemUnreadable: true,
        sources: { github: { grantOnSignup: true, overrides: emptyQuotaMap(DEFAULT_PLATFORMS), unreadable: true } },
      }),
      "github",
    );
    expect(plan.fallbacks).toEqual([{ kind: "unreadable", key: key("github"), cells: DEFAULT_PLATFORMS.length * 3 }]);
  });

  it("not granted: ignored — the system default applies, no fallback", () => {
    const plan = planSignupDefaults(
      input({
        system,
        sources: { github: { grantOnSignup: false, overrides: emptyQuotaMap(DEFAULT_PLATFORMS), unreadable: true } },
      }),
      "github",
    );
    expect(plan.limits.anthropic).toEqual({ daily: "10", weekly: null, monthly: "100" });
    expect(plan.fallbacks).toEqual([]);
  });
});

describe("values DECIMAL(20,10) cannot hold", () => {
  it.each([
    [1e10, MAX_ROW_LIMIT, "too_large"],
    [1e12, MAX_ROW_LIMIT, "too_large"],
    [1e300, MAX_ROW_LIMIT, "too_large"],
    [0.12345678901, "0.123456789", "too_many_decimals"], // 11th decimal 1 → down
    [0.12345678905, "0.1234567891", "too_many_decimals"], // 11th decimal 5 → half up
    [0.99999999995, "1", "too_many_decimals"], // carries into the integer part
    [1.5e-11, "0", "too_many_decimals"], // rounds to 0, as PostgreSQL would
    [5e-11, "0.0000000001", "too_many_decimals"],
    [-1, "0", "negative"],
    [9999999999.99, "9999999999.99", null],
    [0.1234567891, "0.1234567891", null],
    [-0, "0", null],
  ] as const)("%s → %s (%s)", (v, value, reason) => {
    expect(fitDecimal(v)).toEqual({ value, reason });
  });

  it("a stored 1e12 is clamped to 9999999999.9999999999 and reported with key, cell and both values", () => {
    const o = emptyQuotaMap(DEFAULT_PLATFORMS);
    o.openai.daily = 1e12;
    const plan = planSignupDefaults(
      input({ sources: { email: { grantOnSignup: true, overrides: o, unreadable: false } } }),
      "email",
    );
    expect(plan.limits.openai.daily).toBe(MAX_ROW_LIMIT);
    expect(plan.cells.openai.daily).toEqual({
      limit: MAX_ROW_LIMIT,
      origin: "source",
      key: key("email"),
      fallback: "too_large",
      stored: 1e12,
    });
    expect(plan.fallbacks).toEqual([
      {
        kind: "clamped",
        reason: "too_large",
        key: key("email"),
        platform: "openai",
        window: "daily",
        stored: 1e12,
        applied: MAX_ROW_LIMIT,
      },
    ]);
  });

  it("a stored value with 11 decimals is rounded half-up to 10", () => {
    const s = decodeQuotaMap('{"gemini":{"weekly":0.12345678905}}', DEFAULT_PLATFORMS).map;
    const plan = planSignupDefaults(input({ system: s }), "wechat");
    expect(plan.limits.gemini.weekly).toBe("0.1234567891");
    expect(plan.fallbacks).toEqual([
      {
        kind: "clamped",
        reason: "too_many_decimals",
        key: SYS,
        platform: "gemini",
        window: "weekly",
        stored: 0.12345678905,
        applied: "0.1234567891",
      },
    ]);
  });

  it("a system value overridden by a granted source is not used, so not reported for that source", () => {
    const s = emptyQuotaMap(DEFAULT_PLATFORMS);
    s.openai.daily = 1e12;
    const o = emptyQuotaMap(DEFAULT_PLATFORMS);
    o.openai.daily = 7;
    const i = input({ system: s, sources: { oidc: { grantOnSignup: true, overrides: o, unreadable: false } } });
    expect(planSignupDefaults(i, "oidc").fallbacks).toEqual([]);
    expect(planSignupDefaults(i, "email").fallbacks).toHaveLength(1);
  });
});

describe("settings page health", () => {
  it("nothing to report for readable, fitting values", () => {
    expect(settingsHealth(input({ system }))).toEqual([]);
  });

  it("lists unreadable maps (a source's one marked used only while its switch is on) and each clamped cell once", () => {
    const s = emptyQuotaMap(DEFAULT_PLATFORMS);
    s.anthropic.monthly = 1e12; // used by every non-granted source: reported once
    const i = input({
      system: s,
      systemUnreadable: false,
      sources: {
        github: { grantOnSignup: true, overrides: emptyQuotaMap(DEFAULT_PLATFORMS), unreadable: true },
        dingtalk: { grantOnSignup: false, overrides: emptyQuotaMap(DEFAULT_PLATFORMS), unreadable: true },
      },
    });
    expect(settingsHealth(i)).toEqual([
      { kind: "unreadable", key: key("github"), scope: "source", source: "github", used: true },
      { kind: "unreadable", key: key("dingtalk"), scope: "source", source: "dingtalk", used: false },
      {
        kind: "clamped",
        reason: "too_large",
        key: SYS,
        platform: "anthropic",
        window: "monthly",
        stored: 1e12,
        applied: MAX_ROW_LIMIT,
      },
    ]);
    expect(settingsHealth(input({ systemUnreadable: true }))).toEqual([
      { kind: "unreadable", key: SYS, scope: "system" },
    ]);
  });
});

describe("reporting a sign-up's fallbacks", () => {
  beforeEach(() => {
    signupDefaultsFallbacks.unreadable = 0;
    signupDefaultsFallbacks.clamped = 0;
  });

  it("one console.warn per sign-up naming every key; counts sign-ups by kind", () => {
    const o = emptyQuotaMap(DEFAULT_PLATFORMS);
    o.kimi.monthly = 1e12;
    o.kimi.daily = 2e12;
    const plan = planSignupDefaults(
      input({ systemUnreadable: true, sources: { email: { grantOnSignup: true, overrides: o, unreadable: false } } }),
      "email",
    );
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    try {
      reportSignupFallbacks(plan, 42);
      expect(warn).toHaveBeenCalledTimes(1);
      const line = String(warn.mock.calls[0][0]);
      expect(line).toContain("user 42");
      expect(line).toContain("default_platform_quotas is unreadable");
      expect(line).toContain("auth_source_default_email_platform_quotas kimi.daily = 2000000000000");
      expect(line).toContain(`stored as ${MAX_ROW_LIMIT}`);
      expect(signupDefaultsFallbacks).toEqual({ unreadable: 1, clamped: 1 });
    } finally {
      warn.mockRestore();
    }
  });

  it("a clean plan logs and counts nothing", () => {
    const warn = vi.fn();
    reportSignupFallbacks(planSignupDefaults(input({ system }), "email"), 1, warn);
    expect(warn).not.toHaveBeenCalled();
    expect(signupDefaultsFallbacks).toEqual({ unreadable: 0, clamped: 0 });
  });
});
