import { describe, expect, it } from "vitest";

import { AUTH_SOURCES } from "@/lib/auth-sources";
import { DEFAULT_PLATFORMS } from "@/lib/billing/platforms";
import { emptyQuotaMap } from "@/lib/settings/quota-schema";
import { defaultsToJson, planDefaultsImport, type DefaultsSnapshot } from "@/lib/settings/transfer";

const P = DEFAULT_PLATFORMS;

function snapshot(): DefaultsSnapshot {
  const system = emptyQuotaMap(P);
  system.anthropic = { daily: 10, weekly: 50.5, monthly: null };
  system.openai = { daily: 0, weekly: 0, monthly: 0 };
  const sources = Object.fromEntries(
    AUTH_SOURCES.map((s) => [s, { grantOnSignup: false, overrides: emptyQuotaMap(P) }]),
  ) as DefaultsSnapshot["sources"];
  sources[AUTH_SOURCES[0]].grantOnSignup = true;
  sources[AUTH_SOURCES[0]].overrides.gemini = { daily: 1.25, weekly: null, monthly: 9999999999.9 };
  return { system, sources, version: "v1" };
}

describe("quota defaults export / import", () => {
  it("export → import → export is byte for byte the same, and changes nothing", () => {
    const d = snapshot();
    const text = defaultsToJson(d, P);
    const plan = planDefaultsImport(text, d, P);
    expect(plan.problems).toEqual([]);
    expect(plan.changes).toEqual([]);
    expect(plan.form?.version).toBe("v1");
    expect(defaultsToJson({ ...plan.form!, version: "v2" }, P)).toBe(text);
  });

  it("what a file leaves out stays; what it names is reported as changes", () => {
    const d = snapshot();
    const first = AUTH_SOURCES[0];
    const plan = planDefaultsImport(
      JSON.stringify({
        format: "quota-console/defaults@1",
        system: { anthropic: { daily: 20 } },
        sources: { [first]: { grant_on_signup: false } },
      }),
      d,
      P,
    );
    expect(plan.problems).toEqual([]);
    expect(plan.changes).toEqual([
      { key: "system", platform: "anthropic", window: "daily", before: 10, after: 20 },
      { key: `${first}.grant`, before: true, after: false },
    ]);
    expect(plan.form?.system.anthropic).toEqual({ daily: 20, weekly: 50.5, monthly: null });
    expect(plan.form?.sources[first].overrides.gemini).toEqual({ daily: 1.25, weekly: null, monthly: 9999999999.9 });
  });

  it("every bad value is reported with its path, and nothing is planned", () => {
    const plan = planDefaultsImport(
      JSON.stringify({
        format: "quota-console/defaults@1",
        system: { anthropic: { daily: -1, weekly: "x" }, nope: {} },
        sources: {
          martian: {},
          [AUTH_SOURCES[1]]: { grant_on_signup: "yes", overrides: { openai: { monthly: 1e10 } } },
        },
      }),
      snapshot(),
      P,
    );
    expect(plan.problems).toEqual([
      { path: "system.anthropic.daily", code: "NEGATIVE" },
      { path: "system.anthropic.weekly", code: "NOT_A_NUMBER" },
      { path: "system.nope", code: "UNKNOWN_PLATFORM" },
      { path: "sources.martian", code: "UNKNOWN_SOURCE" },
      { path: `sources.${AUTH_SOURCES[1]}.grant_on_signup`, code: "INVALID_FLAG" },
      { path: `sources.${AUTH_SOURCES[1]}.overrides.openai.monthly`, code: "TOO_LARGE" },
    ]);
    expect(plan.form).toBeNull();
    expect(planDefaultsImport("{", snapshot(), P).problems).toEqual([{ path: "", code: "NOT_JSON" }]);
    expect(planDefaultsImport('{"format":"x"}', snapshot(), P).problems).toEqual([
      { path: "format", code: "UNKNOWN_FORMAT" },
    ]);
  });
});
