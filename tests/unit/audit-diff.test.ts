import { describe, expect, it } from "vitest";

import { describeChanges } from "@/lib/audit/diff";
import { AuditListParamsSchema } from "@/lib/audit/log";

/** The audit page's reading of recorded changes (lib/audit/diff.ts). */
describe("describeChanges", () => {
  it("draws quota changes as one matrix per scope, rows in registry order, a fork's platform last", () => {
    const s = describeChanges("user.platform_quotas.update", [
      { key: "platform_quota", platform: "mistral", window: "daily", before: "absent", after: 1 },
      { key: "platform_quota", platform: "openai", window: "weekly", before: 5, after: null },
      { key: "platform_quota", platform: "anthropic", window: "daily", before: null, after: 0 },
      { key: "platform_quota", platform: "gemini", before: { daily: 1 }, after: "removed" },
    ]);
    expect(s).toEqual([
      {
        kind: "matrix",
        scope: { of: "user" },
        rows: [
          { platform: "anthropic", cells: { daily: { before: null, after: 0 } } },
          { platform: "openai", cells: { weekly: { before: 5, after: null } } },
          { platform: "gemini", cells: {}, removed: { before: { daily: 1 }, after: "removed" } },
          { platform: "mistral", cells: { daily: { before: "absent", after: 1 } } },
        ],
      },
    ]);
  });

  it("keeps settings scopes apart and in the order they were recorded, with grant switches between", () => {
    const s = describeChanges("settings.quota_defaults.update", [
      { key: "default_platform_quotas", platform: "kimi", window: "monthly", before: null, after: 30 },
      { key: "auth_source_default_github_grant_on_signup", before: false, after: true },
      { key: "auth_source_default_github_platform_quotas", platform: "kimi", window: "daily", before: null, after: 0 },
    ]);
    expect(s.map((x) => (x.kind === "matrix" ? x.scope : x.kind))).toEqual([
      { of: "system" },
      "grant",
      { of: "source", source: "github" },
    ]);
  });

  it("labels usage resets, status, role, registration and cache repairs; anything else stays raw", () => {
    expect(
      describeChanges("user.platform_quotas.reset", [
        { key: "usage", platform: "zhipu", window: "weekly", before: 4.2, after: 0 },
      ]),
    ).toEqual([{ kind: "usage", platform: "zhipu", window: "weekly", before: 4.2, after: 0 }]);
    expect(
      describeChanges("user.role.update", [
        { key: "role", before: "user", after: "admin" },
        { key: "sessions_ended", before: null, after: 2 },
      ]).map((x) => x.kind === "value" && x.field),
    ).toEqual(["role", "sessions_ended"]);
    expect(
      describeChanges("settings.registration.update", [
        { key: "quota_console_registration_enabled", before: false, after: true },
      ]),
    ).toEqual([{ kind: "value", field: "registration", before: false, after: true }]);
    expect(
      describeChanges("cache.repair", [
        { key: "billing:upq:1:openai", platform: "openai", before: {}, after: { outcome: "dropped" } },
      ]),
    ).toEqual([{ kind: "cache", platform: "openai", key: "billing:upq:1:openai", after: { outcome: "dropped" } }]);
    expect(describeChanges("future.kind", [{ key: "x", before: 1, after: 2 }])).toEqual([
      { kind: "other", key: "x", before: 1, after: 2 },
    ]);
  });
});

describe("AuditListParamsSchema", () => {
  it("drops what PostgreSQL cannot compare (NUL, lone surrogates) and ignores bad values instead of failing", () => {
    expect(
      AuditListParamsSchema.parse({
        actor: "a\u0000b@x",
        user: " \uD800 7 ",
        kind: "nope",
        from: "2026-02-30",
        page: "-3",
      }),
    ).toEqual({ actor: "ab@x", user: "7", kind: "", from: "", to: "", page: 1 });
  });
});
