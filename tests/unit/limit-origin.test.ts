import { describe, expect, it } from "vitest";

import { AUTH_SOURCES } from "@/lib/auth-sources";
import { DEFAULT_PLATFORMS } from "@/lib/billing/platforms";
import { defaultsAt, limitOrigins, type OriginAuditEntry } from "@/lib/quota/limit-origin";
import { emptyQuotaMap } from "@/lib/settings/quota-schema";
import type { SignupDefaultsInput } from "@/lib/settings/signup-plan";

/** "Why this limit" (lib/quota/limit-origin.ts): origins derived from the audit trail. */
const T0 = Date.parse("2026-11-01T00:00:00Z"); // the rows' creation (sign-up)
const later = (h: number) => new Date(T0 + h * 3_600_000).toISOString();

function defaults(): SignupDefaultsInput {
  const sources = Object.fromEntries(
    AUTH_SOURCES.map((s) => [
      s,
      { grantOnSignup: false, overrides: emptyQuotaMap(DEFAULT_PLATFORMS), unreadable: false },
    ]),
  ) as SignupDefaultsInput["sources"];
  return { platforms: DEFAULT_PLATFORMS, system: emptyQuotaMap(DEFAULT_PLATFORMS), systemUnreadable: false, sources };
}
const L = (daily: number | null, weekly: number | null = null, monthly: number | null = null) => ({
  daily,
  weekly,
  monthly,
});

describe("limitOrigins", () => {
  it("a value the sign-up snapshot gave comes from the defaults as they were then, not as they are now", () => {
    const today = defaults();
    today.system.anthropic = L(20);
    // The admin raised the system default after this user signed up: 10 → 20.
    const settingsChanges: OriginAuditEntry[] = [
      {
        id: 7,
        actorEmail: "a@x",
        at: later(5),
        changes: [{ key: "default_platform_quotas", platform: "anthropic", window: "daily", before: 10, after: 20 }],
      },
    ];
    expect(defaultsAt(today, settingsChanges, T0).system.anthropic.daily).toBe(10);
    const o = limitOrigins({
      rows: [{ platform: "anthropic", limits: L(10), createdAt: T0 }],
      signupSource: "email",
      userEdits: [],
      settingsChanges,
      defaults: today,
    });
    expect(o.anthropic.daily).toEqual({
      kind: "signup",
      from: "system",
      source: null,
      asOf: new Date(T0).toISOString(),
    });
    expect(o.anthropic.weekly).toEqual({
      kind: "signup",
      from: "system",
      source: null,
      asOf: new Date(T0).toISOString(),
    });
  });

  it("a source override applies only if its switch was on at sign-up", () => {
    const today = defaults();
    today.sources.github = { grantOnSignup: true, overrides: emptyQuotaMap(DEFAULT_PLATFORMS), unreadable: false };
    today.sources.github.overrides.openai = L(null, null, 0);
    const rows = [{ platform: "openai", limits: L(null, null, 0), createdAt: T0 }];
    const on = limitOrigins({ rows, signupSource: "github", userEdits: [], settingsChanges: [], defaults: today });
    expect(on.openai.monthly).toMatchObject({ kind: "signup", from: "source", source: "github" });
    // The switch was turned on only after the sign-up: monthly 0 did not come from the defaults.
    const switchedLater: OriginAuditEntry[] = [
      {
        id: 9,
        actorEmail: "a@x",
        at: later(1),
        changes: [{ key: "auth_source_default_github_grant_on_signup", before: false, after: true }],
      },
    ];
    const off = limitOrigins({
      rows,
      signupSource: "github",
      userEdits: [],
      settingsChanges: switchedLater,
      defaults: today,
    });
    expect(off.openai.monthly).toEqual({ kind: "outside", since: null });
    expect(off.openai.daily).toMatchObject({ kind: "signup", from: "system" });
  });

  it("a console edit names who and when while the value still matches; a later outside change says so", () => {
    const edits: OriginAuditEntry[] = [
      {
        id: 42,
        actorEmail: "ops@x",
        at: later(3),
        changes: [{ key: "platform_quota", platform: "kimi", window: "weekly", before: null, after: 5 }],
      },
    ];
    const base = { signupSource: "email", userEdits: edits, settingsChanges: [], defaults: defaults() };
    const same = limitOrigins({ ...base, rows: [{ platform: "kimi", limits: L(null, 5), createdAt: T0 }] });
    expect(same.kimi.weekly).toEqual({ kind: "edit", auditId: 42, actorEmail: "ops@x", at: later(3) });
    const moved = limitOrigins({ ...base, rows: [{ platform: "kimi", limits: L(null, 7), createdAt: T0 }] });
    expect(moved.kimi.weekly).toEqual({ kind: "outside", since: { auditId: 42, at: later(3) } });
    // Untouched windows of an edited row still trace back to the sign-up.
    expect(same.kimi.daily).toMatchObject({ kind: "signup" });
  });

  it("a row the console created by an edit (before: absent) is an edit, a source it does not know gets the system default", () => {
    const edits: OriginAuditEntry[] = [
      {
        id: 3,
        actorEmail: "ops@x",
        at: later(2),
        changes: [
          { key: "platform_quota", platform: "grok", window: "daily", before: "absent", after: 1 },
          { key: "platform_quota", platform: "grok", window: "weekly", before: "absent", after: null },
          { key: "platform_quota", platform: "grok", window: "monthly", before: "absent", after: null },
        ],
      },
    ];
    const o = limitOrigins({
      rows: [{ platform: "grok", limits: L(1), createdAt: Date.parse(later(2)) }],
      signupSource: "some-fork-source",
      userEdits: edits,
      settingsChanges: [],
      defaults: defaults(),
    });
    expect(o.grok.daily).toMatchObject({ kind: "edit", auditId: 3 });
    expect(o.grok.weekly).toMatchObject({ kind: "edit", auditId: 3 });
  });
});
