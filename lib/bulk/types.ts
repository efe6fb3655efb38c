/**
 * Bulk operations on many users' platform quotas (issue 16): what an operator (or an import, or the
 * automation API) asks for. Pure types, no server code, so client components, server actions and
 * importers share them. The engine (lib/bulk/engine.ts) previews a request (dry run →
 * fingerprint) and applies it in bounded batches through a resumable job.
 *
 * A limit is null (unlimited), 0 (disabled) or a USD cap (spec §2.1), as everywhere.
 */
import type { AuthSource } from "@/lib/auth-sources";
import type { QuotaWindow } from "@/lib/billing/vocabulary";
import type { QuotaMap } from "@/lib/settings/quota-schema";

export type { QuotaMap } from "@/lib/settings/quota-schema";

/**
 * The users list's filters (the list page's URL state without sort and page: q, role, status,
 * source, limit=1 "has a limit", over80=1 "over 80 % of a limit"), plus the bulk-only ones the
 * issue names. Empty string / null = not filtered. The list's part is the users list's own SQL
 * (lib/users/list-sql.ts), so what the list shows is what a bulk operation changes.
 */
export type BulkFilter = {
  q: string;
  role: "" | "admin" | "user";
  status: "" | "active" | "disabled";
  source: "" | AuthSource;
  limit: "" | "1";
  over80: "" | "1";
  /** over N % of a limit (0 < N ≤ 1000), with the same lazy-zero rules as over80; null = off */
  overPercent: number | null;
  /** created at or after this instant (ISO 8601), null = no bound */
  createdFrom: string | null;
  /** created before this instant (ISO 8601, exclusive), null = no bound */
  createdTo: string | null;
};

/** Which users: every user the filter selects, or exactly these ids (unknown / deleted ids are left out). */
export type BulkSelection = { kind: "filter"; filter: BulkFilter } | { kind: "ids"; userIds: number[] };

/** What "set limits" writes into each chosen cell. */
export type LimitValue = { mode: "value"; usd: number } | { mode: "unlimited" } | { mode: "disabled" };

/** The cells an operation touches: these platforms (registry names) × these windows. */
export type Cells = { platforms: string[]; windows: QuotaWindow[] };

export type SetLimitsOperation = { kind: "set_limits"; value: LimitValue } & Cells;
/**
 * Multiply each chosen cell's limit by `factor` (> 0), rounded to 10 decimals; unlimited (null) and
 * disabled (0) cells stay as they are; a result ≥ 10^10 is refused in the preview.
 */
export type ScaleOperation = { kind: "scale"; factor: number } & Cells;
/**
 * Usage of the chosen windows to 0 with the calendar anchor rules of a per-user reset (daily/weekly
 * start at the current calendar start, monthly at now); users without a row on a platform are
 * unchanged. Not undoable (usage is not a setting: a reset's undo would invent costs).
 */
export type ResetUsageOperation = { kind: "reset_usage" } & Cells;
/**
 * The current defaults: "system" (the system quota defaults) or "signup_source" (each user's
 * sign-up source's defaults merged over the system ones, as a sign-up would get them now).
 * "replace": the chosen platforms get the defaults' limits; "fill_missing": only chosen platforms
 * the user has no row for.
 */
export type ApplyDefaultsOperation = {
  kind: "apply_defaults";
  from: "system" | "signup_source";
  mode: "replace" | "fill_missing";
  platforms: string[];
};
/** Every window of the chosen platforms unlimited (rows kept, so usage is still tracked). */
export type ClearLimitsOperation = { kind: "clear_limits"; platforms: string[] };
/**
 * Explicit target values per user (what an import produces): each row is a whole replace of that
 * user's limits, exactly what saveUserPlatformQuotasAction takes for one user — a QuotaMap with
 * every registry platform (quotaMapSchema builds it; a platform left out of a file should be filled
 * by the importer, e.g. from the user's current limits). A user id may appear once. The selection
 * is the rows' user ids (unknown or deleted users are reported, not created).
 */
export type SetValuesOperation = { kind: "set_values"; rows: Array<{ userId: number; quotas: QuotaMap }> };

export type BulkOperation =
  | SetLimitsOperation
  | ScaleOperation
  | ResetUsageOperation
  | ApplyDefaultsOperation
  | ClearLimitsOperation
  | SetValuesOperation;

export type BulkOperationKind = BulkOperation["kind"];

/**
 * A bulk request. `set_values` names its users itself (no selection); every other operation acts
 * on a selection.
 */
export type BulkRequest =
  | { selection: BulkSelection; operation: Exclude<BulkOperation, SetValuesOperation> }
  | { selection?: undefined; operation: SetValuesOperation };

/** One changed cell of one user, before → after (null = unlimited; "absent" = no row; usage for resets). */
export type CellChange = {
  userId: number;
  email: string;
  platform: string;
  window: QuotaWindow;
  /** "limit" for limit operations, "usage" for resets */
  field: "limit" | "usage";
  before: number | null | "absent";
  after: number | null;
};

/** A dry run's answer: what an apply with `fingerprint` would change. */
export type BulkPreview = {
  /** users the selection holds */
  users: number;
  /** users whose rows would change */
  usersChanged: number;
  /** quota cells that would change */
  cellsChanged: number;
  /** the first changed cells (in user id order), at most SAMPLE_CELLS */
  sample: CellChange[];
  /** per-user problems that would leave that user unchanged (e.g. a scaled limit too large; unknown ids) */
  problems: Array<{ userId: number; code: string }>;
  /**
   * Hash of the request, the selected users and each one's quota version (limits) — and for
   * apply_defaults the defaults' version. Apply refuses a different one (STALE_PREVIEW).
   */
  fingerprint: string;
};

export type BulkJobState = "running" | "cancelling" | "cancelled" | "done" | "failed";

/** A job's progress (the page's bar, /api/health). */
export type BulkJobProgress = {
  id: number;
  kind: BulkOperationKind | "undo";
  state: BulkJobState;
  total: number;
  /** users processed so far (applied + unchanged + conflicts + gone) */
  done: number;
  applied: number;
  unchanged: number;
  /** users skipped because their quotas changed after the preview (or, for an undo, since the operation) */
  conflicts: number;
  /** users deleted meanwhile */
  gone: number;
  createdAt: string;
  finishedAt: string | null;
  actorEmail: string;
  /** the job this one undoes */
  undoOf: number | null;
  /** the id of the undo job of this one, once started */
  undoneBy: number | null;
  error: string | null;
};

/** A filter that selects every user (nothing set): the starting point of a filter with a few fields set. */
export const NO_BULK_FILTER: BulkFilter = {
  q: "",
  role: "",
  status: "",
  source: "",
  limit: "",
  over80: "",
  overPercent: null,
  createdFrom: null,
  createdTo: null,
};
