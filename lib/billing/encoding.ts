/**
 * Byte-level encoding shared with the Go gateway's Redis cache (spec §6).
 *
 * Go writes floats with strconv.FormatFloat(f, 'f', -1, 64) — the shortest decimal that
 * round-trips, never in exponent notation — and integers in base 10; nil limits and window
 * starts are the empty string; instants are Unix seconds. JavaScript's Number#toString finds the
 * same shortest digits but switches to exponent notation below 1e-6 and from 1e21, so the digits
 * are re-laid out here. Readers accept whatever Go or Redis (HINCRBYFLOAT) wrote and mirror Go's
 * parse failures exactly (usage → 0, limit → nil, instant → nil, int → 0).
 */

/** strconv.FormatFloat(n, 'f', -1, 64). */
export function formatGoFloat(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Infinity) return "+Inf";
  if (n === -Infinity) return "-Inf";
  if (n === 0) return Object.is(n, -0) ? "-0" : "0";
  const s = String(n);
  const e = s.indexOf("e");
  if (e < 0) return s;
  // d.ddddde±x → plain decimal with the same digits.
  const negative = s[0] === "-";
  const mantissa = s.slice(negative ? 1 : 0, e);
  const exp = Number(s.slice(e + 1));
  const dot = mantissa.indexOf(".");
  const digits = dot < 0 ? mantissa : mantissa.slice(0, dot) + mantissa.slice(dot + 1);
  const intLen = (dot < 0 ? mantissa.length : dot) + exp; // digits before the decimal point
  let out: string;
  if (intLen <= 0) out = `0.${"0".repeat(-intLen)}${digits}`;
  else if (intLen >= digits.length) out = digits + "0".repeat(intLen - digits.length);
  else out = `${digits.slice(0, intLen)}.${digits.slice(intLen)}`;
  return negative ? `-${out}` : out;
}

/** strconv.FormatInt(n, 10) for an integer (Unix seconds, version counters). */
export function formatGoInt(n: number | bigint): string {
  if (typeof n === "number" && !Number.isInteger(n)) throw new Error(`not an integer: ${n}`);
  return typeof n === "bigint" ? n.toString() : n.toFixed(0);
}

const DECIMAL = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const SPECIAL = /^[+-]?(?:inf|infinity|nan)$/i;

/**
 * strconv.ParseFloat(s, 64) → the value, or null on a syntax error. Out-of-range input yields
 * ±Infinity (Go returns it together with ErrRange). Hex floats are not produced by Go's
 * formatter or by Redis and are treated as syntax errors.
 */
export function parseGoFloat(s: string): number | null {
  if (DECIMAL.test(s)) return Number(s);
  if (SPECIAL.test(s)) {
    const lower = s.toLowerCase();
    if (lower.endsWith("nan")) return NaN;
    return lower.startsWith("-") ? -Infinity : Infinity;
  }
  return null;
}

/** A usage field as Go reads it: `f, _ := ParseFloat(s)` — syntax error → 0, range error → ±Inf. */
export function parseUsage(s: string | undefined): number {
  if (s === undefined) return 0;
  return parseGoFloat(s) ?? 0;
}

/** A limit field as Go reads it: "" or any parse error (including range) → nil = unlimited. */
export function parseLimit(s: string | undefined): number | null {
  if (s === undefined || s === "") return null;
  const f = parseGoFloat(s);
  return f === null || !Number.isFinite(f) ? null : f;
}

const INT = /^[+-]?\d+$/;
const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;

/** strconv.ParseInt(s, 10, 64); null on any error (syntax or out of int64 range). */
export function parseGoInt(s: string | undefined): bigint | null {
  if (s === undefined || !INT.test(s)) return null;
  const v = BigInt(s);
  return v > INT64_MAX || v < INT64_MIN ? null : v;
}

/** An int field as Go reads it: `n, _ := ParseInt(s)` → 0 on error. Safe range only. */
export function parseIntField(s: string | undefined): number {
  const v = parseGoInt(s);
  return v === null ? 0 : Number(v);
}

/** A Unix-seconds instant field: "" or unparsable → null; else epoch milliseconds. */
export function parseUnixSeconds(s: string | undefined): number | null {
  if (s === undefined || s === "") return null;
  const v = parseGoInt(s);
  return v === null ? null : Number(v) * 1000;
}

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
