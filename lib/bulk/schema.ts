import { z } from "zod";

import { AUTH_SOURCES } from "@/lib/auth-sources";
import { isPlatform } from "@/lib/billing/platforms";
import { LimitSchema, quotaMapSchema } from "@/lib/settings/quota-schema";

import type { BulkRequest } from "./types";

/**
 * The bulk request as the server actions (and later the automation API) accept it, built for the
 * platform registry `platforms`. Messages are error codes (translated under `Errors.<code>`);
 * every list is bounded, so a request cannot make the server scan without end.
 */
export const MAX_BULK_IDS = 100_000;
/** set_values rows per request (an import of every user of a large gateway fits) */
export const MAX_SET_VALUES_ROWS = 200_000;

const UserId = z
  .number("INVALID_ID")
  .int("INVALID_ID")
  .positive("INVALID_ID")
  .max(Number.MAX_SAFE_INTEGER, "INVALID_ID");
const Instant = z
  .string("INVALID_DATE")
  .max(40, "INVALID_DATE")
  .refine((s) => Number.isFinite(Date.parse(s)), "INVALID_DATE")
  .nullable();

const FilterSchema = z.strictObject(
  {
    q: z.string("INVALID_FILTER").max(100, "TOO_LONG"),
    role: z.enum(["", "admin", "user"], "INVALID_ROLE"),
    status: z.enum(["", "active", "disabled"], "INVALID_STATUS"),
    source: z.enum(["", ...AUTH_SOURCES], "INVALID_FILTER"),
    limit: z.enum(["", "1"], "INVALID_FILTER"),
    over80: z.enum(["", "1"], "INVALID_FILTER"),
    overPercent: z.number("INVALID_PERCENT").gt(0, "INVALID_PERCENT").max(1000, "INVALID_PERCENT").nullable(),
    createdFrom: Instant,
    createdTo: Instant,
  },
  "INVALID_FILTER",
);

const SelectionSchema = z.discriminatedUnion(
  "kind",
  [
    z.strictObject({ kind: z.literal("filter"), filter: FilterSchema }),
    z.strictObject({
      kind: z.literal("ids"),
      userIds: z.array(UserId, "INVALID_SELECTION").min(1, "EMPTY_SELECTION").max(MAX_BULK_IDS, "TOO_MANY_USERS"),
    }),
  ],
  "INVALID_SELECTION",
);

const WindowsSchema = z
  .array(z.enum(["daily", "weekly", "monthly"], "INVALID_WINDOW"), "INVALID_WINDOW")
  .min(1, "NO_WINDOWS")
  .max(3, "INVALID_WINDOW")
  .refine((w) => new Set(w).size === w.length, "INVALID_WINDOW");

export function bulkRequestSchema(platforms: readonly string[]) {
  const Platforms = z
    .array(
      z.string("UNKNOWN_PLATFORM").refine((p) => isPlatform(p, platforms), "UNKNOWN_PLATFORM"),
      "UNKNOWN_PLATFORM",
    )
    .min(1, "NO_PLATFORMS")
    .max(platforms.length, "UNKNOWN_PLATFORM")
    .refine((p) => new Set(p).size === p.length, "UNKNOWN_PLATFORM");
  const Value = z.discriminatedUnion(
    "mode",
    [
      z.strictObject({
        mode: z.literal("value"),
        usd: LimitSchema.refine((v) => v !== null, "REQUIRED").transform((v) => v!),
      }),
      z.strictObject({ mode: z.literal("unlimited") }),
      z.strictObject({ mode: z.literal("disabled") }),
    ],
    "INVALID_LIMITS",
  );
  const SetValues = z.strictObject({
    kind: z.literal("set_values"),
    rows: z
      .array(z.strictObject({ userId: UserId, quotas: quotaMapSchema(platforms) }), "INVALID_ROWS")
      .min(1, "EMPTY_SELECTION")
      .max(MAX_SET_VALUES_ROWS, "TOO_MANY_USERS")
      .refine((rows) => new Set(rows.map((r) => r.userId)).size === rows.length, "DUPLICATE_USER"),
  });
  const Operation = z.discriminatedUnion(
    "kind",
    [
      SetValues,
      z.strictObject({ kind: z.literal("set_limits"), platforms: Platforms, windows: WindowsSchema, value: Value }),
      z.strictObject({
        kind: z.literal("scale"),
        platforms: Platforms,
        windows: WindowsSchema,
        factor: z.number("INVALID_FACTOR").gt(0, "INVALID_FACTOR").max(1000, "INVALID_FACTOR"),
      }),
      z.strictObject({ kind: z.literal("reset_usage"), platforms: Platforms, windows: WindowsSchema }),
      z.strictObject({
        kind: z.literal("apply_defaults"),
        from: z.enum(["system", "signup_source"], "INVALID_OPERATION"),
        mode: z.enum(["replace", "fill_missing"], "INVALID_OPERATION"),
        platforms: Platforms,
      }),
      z.strictObject({ kind: z.literal("clear_limits"), platforms: Platforms }),
    ],
    "INVALID_OPERATION",
  );
  // set_values names its users itself: no selection; every other operation needs one.
  return z.strictObject({ selection: SelectionSchema.optional(), operation: Operation }).superRefine((r, ctx) => {
    if ((r.operation.kind === "set_values") !== (r.selection === undefined))
      ctx.addIssue({ code: "custom", path: ["selection"], message: "INVALID_SELECTION" });
  }) as unknown as z.ZodType<BulkRequest>;
}
