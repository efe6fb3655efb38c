import {
  canonicalDecimal,
  canonicalSmallInt,
  formatGoFloat,
  formatGoInt,
  goParseFloat,
  goParseInt,
} from "./go-strconv";

/**
 * Byte-level encoding shared with the Go gateway's Redis cache (spec §6).
 *
 * Writers: Go writes floats with strconv.FormatFloat(f, 'f', -1, 64) — the shortest decimal that
 * round-trips, never in exponent notation — and integers in base 10; nil limits and window starts
 * are the empty string; instants are Unix seconds. JavaScript's Number#toString finds the same
 * shortest digits but switches to exponent notation below 1e-6 and from 1e21, so the digits are
 * re-laid out (go-strconv.ts).
 *
 * Readers: goParseFloat / goParseInt (go-strconv.ts) are exact ports of strconv.ParseFloat(s, 64) and
 * strconv.ParseInt(s, 10, 64) (Go 1.19 atof.go / atoi.go / eisel_lemire.go): the same accepted
 * grammar (hex floats, underscores, inf/nan spellings), the same value and the same error kind,
 * including Go's quirks (see tests/unit/billing-encoding.test.ts and the golden vectors produced by
 * scripts/golden/go-vectors.go). On top of them sit the readers of each cache, mirroring what the
 * gateway does with the error: the quota hash (readQuota*, which also flag bytes no legitimate
 * writer produces) and the other caches (parseUsage & co, which keep Go's value on error).
 *
 * The quota readers run 11 times per eligibility check, so the canonical forms are recognised by
 * a char-code scan; the full Go grammar only runs when that scan does not match.
 */

export {
  formatGoFloat,
  formatGoInt,
  canonicalDecimal,
  canonicalSmallInt,
  goParseFloat,
  goParseInt,
  type GoNumError,
  type GoParsed,
} from "./go-strconv";

// ---- The quota hash (spec §6.1) as upstream parseUserPlatformQuotaHash reads it ----

/**
 * A field as Go reads it, and whether its bytes are something no legitimate writer (Go's
 * FormatFloat('f', -1) / FormatInt, Redis HINCRBYFLOAT / HINCRBY) produces — to count and repair.
 */
export type QuotaRead<T> = { value: T; malformed: boolean };

/**
 * `*_usage`: "" → 0; any ParseFloat error (syntax or range) → 0; else Go's value (hex, inf and nan
 * included). A missing field reads as "" in Go (map zero value). Canonical: `^-?\d+(\.\d+)?$`,
 * finite; "" is malformed too, since HINCRBYFLOAT fails on it.
 */
export function readQuotaUsage(s: string | undefined): QuotaRead<number> {
  if (s === undefined) return { value: 0, malformed: true };
  const v = canonicalDecimal(s, true);
  if (v === v) return { value: v, malformed: false };
  const r = goParseFloat(s);
  return { value: r.err === null ? r.value : 0, malformed: true };
}

/**
 * `*_limit`: "" → null (how nil is written); any ParseFloat error → null; else Go's value, which
 * may be NaN, ±Inf ("inf" parses without error), negative or hex. Canonical: `^\d+(\.\d+)?$`, finite.
 */
export function readQuotaLimit(s: string | undefined): QuotaRead<number | null> {
  if (s === undefined) return { value: null, malformed: true };
  if (s === "") return { value: null, malformed: false };
  const v = canonicalDecimal(s, false);
  if (v === v) return { value: v, malformed: false };
  const r = goParseFloat(s);
  return { value: r.err === null ? r.value : null, malformed: true };
}

/**
 * `*_window_start`: "" → null (nil); a ParseInt error → null; else Unix seconds → epoch ms.
 * Canonical: `^-?\d+$` within int64.
 */
export function readQuotaInstant(s: string | undefined): QuotaRead<number | null> {
  if (s === undefined) return { value: null, malformed: true };
  if (s === "") return { value: null, malformed: false };
  const v = canonicalSmallInt(s);
  if (v === v) return { value: v * 1000, malformed: false };
  const r = goParseInt(s);
  if (r.err !== null) return { value: null, malformed: true };
  return { value: Number(r.value) * 1000, malformed: s.charCodeAt(0) === 43 };
}

/**
 * `version` / `schema_version`: `n, _ := ParseInt(s, 10, 64)` — syntax → 0, range → ±MaxInt64
 * (as the nearest double; beyond 2^53 only the order is kept, `=== 1` stays exact).
 * Canonical: `^-?\d+$` within int64.
 */
export function readQuotaInt(s: string | undefined): QuotaRead<number> {
  if (s === undefined) return { value: 0, malformed: true };
  const v = canonicalSmallInt(s);
  if (v === v) return { value: v, malformed: false };
  const r = goParseInt(s);
  return { value: Number(r.value), malformed: r.err !== null || s.charCodeAt(0) === 43 };
}

// ---- The other caches (spec §11): Go keeps the value ParseFloat / ParseInt returns on error ----

/** strconv.ParseFloat(s, 64) → the value, or null on a syntax error (range: ±Inf, as Go returns it). */
export function parseGoFloat(s: string): number | null {
  const r = goParseFloat(s);
  return r.err === "syntax" ? null : r.value;
}

/** A float field read with `v, _ = ParseFloat(s)`: syntax error → 0, overflow → ±Inf; missing → 0. */
export function parseUsage(s: string | undefined): number {
  return s === undefined ? 0 : goParseFloat(s).value;
}

/** The value of readQuotaLimit (kept for older callers). */
export function parseLimit(s: string | undefined): number | null {
  return readQuotaLimit(s).value;
}

/** strconv.ParseInt(s, 10, 64); null on any error (syntax or out of int64 range) or a missing field. */
export function parseGoInt(s: string | undefined): bigint | null {
  if (s === undefined) return null;
  const r = goParseInt(s);
  return r.err === null ? r.value : null;
}

/** An int field read with `n, _ := ParseInt(s)`: syntax → 0, range → ±MaxInt64 (nearest double); missing → 0. */
export function parseIntField(s: string | undefined): number {
  return s === undefined ? 0 : Number(goParseInt(s).value);
}

/** A Unix-seconds field read with `if n, err := ParseInt(s); err == nil`: else null; epoch ms. */
export function parseUnixSeconds(s: string | undefined): number | null {
  const v = parseGoInt(s);
  return v === null ? null : Number(v) * 1000;
}

// ---- Writers of nullable fields ----

/** Epoch milliseconds → Go's t.Unix() (floor to whole seconds, also for negative instants). */
export function unixSeconds(ms: number): number {
  return Math.floor(ms / 1000);
}

/** A nullable float as Go writes a nil-able limit: "" for nil. */
export function formatNullableFloat(v: number | null): string {
  return v === null ? "" : formatGoFloat(v);
}

/** A nullable instant as Go writes a window start: "" for nil, Unix seconds otherwise. */
export function formatNullableInstant(ms: number | null): string {
  return ms === null ? "" : formatGoInt(unixSeconds(ms));
}
