import { describe, expect, it } from "vitest";

import { toFieldErrors } from "@/lib/actions/safe-action";
import { DEFAULT_PLATFORMS } from "@/lib/billing/platforms";
import { bulkRequestSchema } from "@/lib/bulk/schema";
import { NO_BULK_FILTER } from "@/lib/bulk/types";
import en from "@/messages/en.json";
import zh from "@/messages/zh.json";

/**
 * The bulk request's validation (lib/bulk/schema.ts): bad input is refused with a code at the
 * field's path, and every code the schema can give has an en and a zh message under Errors (the
 * page shows te(code)).
 */
const schema = bulkRequestSchema(DEFAULT_PLATFORMS);
const filter = { ...NO_BULK_FILTER };
const ok = {
  selection: { kind: "filter", filter },
  operation: { kind: "set_limits", platforms: ["openai"], windows: ["daily"], value: { mode: "value", usd: 5 } },
};
const errors = (input: unknown) => {
  const r = schema.safeParse(input);
  return r.success ? null : toFieldErrors(r.error);
};

describe("bulk request schema", () => {
  it("accepts a filter selection with each operation, and set_values without a selection", () => {
    expect(errors(ok)).toBeNull();
    for (const operation of [
      { kind: "scale", platforms: ["openai", "gemini"], windows: ["weekly", "monthly"], factor: 1.5 },
      { kind: "reset_usage", platforms: ["openai"], windows: ["daily"] },
      { kind: "apply_defaults", from: "signup_source", mode: "fill_missing", platforms: ["anthropic"] },
      { kind: "clear_limits", platforms: ["grok"] },
    ])
      expect(errors({ ...ok, operation })).toBeNull();
    expect(
      errors({
        operation: {
          kind: "set_values",
          rows: [{ userId: 7, quotas: { openai: { daily: 1, weekly: null, monthly: 0 } } }],
        },
      }),
    ).toBeNull();
  });

  it("refuses bad input with the code at the field's path", () => {
    const cases: Array<[unknown, Record<string, string[]>]> = [
      [
        { ...ok, operation: { ...ok.operation, platforms: ["nope"] } },
        { "operation.platforms.0": ["UNKNOWN_PLATFORM"] },
      ],
      [{ ...ok, operation: { ...ok.operation, platforms: [] } }, { "operation.platforms": ["NO_PLATFORMS"] }],
      [{ ...ok, operation: { ...ok.operation, windows: [] } }, { "operation.windows": ["NO_WINDOWS"] }],
      [
        { ...ok, operation: { ...ok.operation, value: { mode: "value", usd: -1 } } },
        { "operation.value.usd": ["NEGATIVE"] },
      ],
      [
        { ...ok, operation: { ...ok.operation, value: { mode: "value", usd: 1e10 } } },
        { "operation.value.usd": ["TOO_LARGE"] },
      ],
      [
        { ...ok, operation: { kind: "scale", platforms: ["openai"], windows: ["daily"], factor: 0 } },
        { "operation.factor": ["INVALID_FACTOR"] },
      ],
      [
        { ...ok, selection: { kind: "filter", filter: { ...filter, overPercent: 0 } } },
        { "selection.filter.overPercent": ["INVALID_PERCENT"] },
      ],
      [
        { ...ok, selection: { kind: "filter", filter: { ...filter, createdFrom: "yesterday" } } },
        { "selection.filter.createdFrom": ["INVALID_DATE"] },
      ],
      [{ ...ok, selection: { kind: "ids", userIds: [] } }, { "selection.userIds": ["EMPTY_SELECTION"] }],
      [{ operation: ok.operation }, { selection: ["INVALID_SELECTION"] }],
      [
        {
          operation: {
            kind: "set_values",
            rows: [
              { userId: 1, quotas: {} },
              { userId: 1, quotas: {} },
            ],
          },
        },
        { "operation.rows": ["DUPLICATE_USER"] },
      ],
    ];
    for (const [input, want] of cases) expect(errors(input), JSON.stringify(input)).toEqual(want);
  });

  it("every code it gives has an en and a zh message", () => {
    const codes = [
      "UNKNOWN_PLATFORM",
      "NO_PLATFORMS",
      "NO_WINDOWS",
      "INVALID_WINDOW",
      "NEGATIVE",
      "TOO_LARGE",
      "TOO_MANY_DECIMALS",
      "NOT_A_NUMBER",
      "NOT_FINITE",
      "REQUIRED",
      "INVALID_FACTOR",
      "INVALID_PERCENT",
      "INVALID_DATE",
      "INVALID_FILTER",
      "INVALID_SELECTION",
      "EMPTY_SELECTION",
      "TOO_MANY_USERS",
      "INVALID_OPERATION",
      "INVALID_ROWS",
      "DUPLICATE_USER",
      "INVALID_LIMITS",
      "INVALID_ID",
      "INVALID_ROLE",
      "INVALID_STATUS",
      "TOO_LONG",
      "STALE_PREVIEW",
      "NOTHING_TO_CHANGE",
      "BULK_RUNNING",
      "BULK_NOT_RUNNING",
      "ALREADY_UNDONE",
      "UNDO_UNSUPPORTED",
    ];
    for (const c of codes) {
      expect((en.Errors as Record<string, string>)[c], `en ${c}`).toBeTruthy();
      expect((zh.Errors as Record<string, string>)[c], `zh ${c}`).toBeTruthy();
    }
  });
});
