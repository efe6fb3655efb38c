/**
 * Go's strconv, ported exactly (Go 1.19 ftoa.go layout, atof.go / atoi.go / eisel_lemire.go):
 * FormatFloat(f, 'f', -1, 64), FormatInt, ParseFloat(s, 64) and ParseInt(s, 10, 64) — the same
 * accepted grammar, value and error kind, quirks included, pinned by tests/unit/billing-encoding.test.ts
 * and the golden vectors from real Go. encoding.ts (the caches' field rules) builds on these and
 * re-exports them.
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

// ---- strconv.ParseFloat(s, 64) and strconv.ParseInt(s, 10, 64) ----

/** The `Err` of Go's *strconv.NumError: ErrSyntax or ErrRange. */
export type GoNumError = "syntax" | "range";
/** A Go parse result: the value Go returns (also on error) and the error kind, null when none. */
export type GoParsed<T> = Readonly<{ value: T; err: GoNumError | null }>;

const FLOAT_SYNTAX: GoParsed<number> = Object.freeze({ value: 0, err: "syntax" });
const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/**
 * `^-?\d+(\.\d+)?$` (the minus only when `signed`) → its value, else NaN (never a canonical result).
 * Up to 15 digits the value is an exact integer divided by an exact power of ten — one rounding,
 * as Go's atof64exact — otherwise Number(), which is correctly rounded, as Go is. An infinite
 * result (Go: ErrRange) is not canonical either.
 */
export function canonicalDecimal(s: string, signed: boolean): number {
  const n = s.length;
  let i = signed && n > 0 && s.charCodeAt(0) === 45 ? 1 : 0;
  const start = i;
  let m = 0;
  for (; i < n; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) break;
    m = m * 10 + c;
  }
  const intDigits = i - start;
  if (intDigits === 0) return NaN;
  let fracDigits = 0;
  if (i < n) {
    if (s.charCodeAt(i) !== 46) return NaN;
    const fracStart = ++i;
    for (; i < n; i++) {
      const c = s.charCodeAt(i) - 48;
      if (c < 0 || c > 9) return NaN;
      m = m * 10 + c;
    }
    fracDigits = i - fracStart;
    if (fracDigits === 0) return NaN;
  }
  if (intDigits + fracDigits <= 15) {
    const v = m / POW10[fracDigits];
    return start === 1 ? -v : v;
  }
  const v = Number(s);
  return v === Infinity || v === -Infinity ? NaN : v;
}

/** `^-?\d+$` with at most 15 digits → its value (never -0), else NaN. */
export function canonicalSmallInt(s: string): number {
  const n = s.length;
  const start = n > 0 && s.charCodeAt(0) === 45 ? 1 : 0;
  if (n === start || n - start > 15) return NaN;
  let m = 0;
  for (let i = start; i < n; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return NaN;
    m = m * 10 + c;
  }
  return start === 1 ? 0 - m : m;
}

/** strconv.ParseFloat(s, 64): Go's value and error kind (syntax → 0, overflow → ±Inf with "range"). */
export function goParseFloat(s: string): GoParsed<number> {
  const fast = canonicalDecimal(s, true);
  if (fast === fast) return { value: fast, err: null };
  const sp = special(s);
  if (sp !== null) return sp.n === s.length ? { value: sp.value, err: null } : FLOAT_SYNTAX;
  const r = readFloat(s);
  // ParseFloat rejects a valid prefix followed by anything, whatever the prefix's own error.
  if (r === null || r.end !== s.length) return FLOAT_SYNTAX;
  return r.hex ? atofHex(r) : atofDecimal(s, r);
}

/** Go's lower(): ASCII letters fold onto lower case, everything else moves out of the way. */
const lower = (c: number) => c | 0x20;
const isDigit = (c: number) => c >= 48 && c <= 57;

function commonPrefixLenIgnoreCase(s: string, from: number, prefix: string): number {
  const n = Math.min(prefix.length, s.length - from);
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(from + i);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== prefix.charCodeAt(i)) return i;
  }
  return n;
}

/** atof.go special(): "inf", "infinity" (signed) and "nan" (unsigned only), case-insensitive, as a prefix. */
function special(s: string): { value: number; n: number } | null {
  if (s.length === 0) return null;
  const c = s.charCodeAt(0);
  if (c === 43 || c === 45 || c === 73 || c === 105) {
    const nsign = c === 43 || c === 45 ? 1 : 0;
    let n = commonPrefixLenIgnoreCase(s, nsign, "infinity");
    // Anything longer than "inf" is ok, but if we don't have "infinity", only consume "inf".
    if (n > 3 && n < 8) n = 3;
    if (n === 3 || n === 8) return { value: c === 45 ? -Infinity : Infinity, n: nsign + n };
  } else if ((c === 78 || c === 110) && commonPrefixLenIgnoreCase(s, 0, "nan") === 3) {
    return { value: NaN, n: 3 };
  }
  return null;
}

type Scan = {
  end: number; // bytes consumed (Go's n)
  neg: boolean;
  hex: boolean;
  mantStart: number; // s[mantStart, mantEnd) holds the mantissa's digits, dot and underscores
  mantEnd: number;
  sawdot: boolean;
  nd: number; // significant digits (leading zeros excluded)
  ndAtDot: number; // nd when the dot was read
  dp: number; // decimal (hex: binary) point position relative to the significant digits, exponent applied
  mantissa: bigint; // hex only: the first 16 significant digits
  ndMant: number; // hex only: bits in `mantissa`
  trunc: boolean; // hex only: non-zero digits beyond `mantissa`
};

/** atof.go readFloat(): the mantissa and exponent of a decimal or hex literal prefix, or null if invalid. */
function readFloat(s: string): Scan | null {
  const n = s.length;
  let i = 0;
  let underscores = false;
  let neg = false;
  if (i < n && (s.charCodeAt(i) === 43 || s.charCodeAt(i) === 45)) neg = s.charCodeAt(i++) === 45;
  let hex = false;
  if (i + 2 < n && s.charCodeAt(i) === 48 && lower(s.charCodeAt(i + 1)) === 120) {
    hex = true;
    i += 2;
  }
  const maxMantDigits = hex ? 16 : 19;
  const mantStart = i;
  let sawdot = false;
  let sawdigits = false;
  let nd = 0;
  let ndAtDot = 0;
  let ndMant = 0;
  let dp = 0;
  let mantissa = 0n;
  let trunc = false;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 95) {
      underscores = true;
    } else if (c === 46) {
      if (sawdot) break;
      sawdot = true;
      dp = nd;
      ndAtDot = nd;
    } else if (isDigit(c) || (hex && lower(c) >= 97 && lower(c) <= 102)) {
      sawdigits = true;
      if (c === 48 && nd === 0) {
        dp--; // leading zero
        continue;
      }
      nd++;
      if (ndMant < maxMantDigits) {
        if (hex) mantissa = mantissa * 16n + BigInt(isDigit(c) ? c - 48 : lower(c) - 87);
        ndMant++;
      } else if (c !== 48) {
        trunc = true;
      }
    } else {
      break;
    }
  }
  if (!sawdigits) return null;
  const mantEnd = i;
  if (!sawdot) dp = nd;
  if (hex) {
    dp *= 4;
    ndMant *= 4;
  }
  if (i < n && lower(s.charCodeAt(i)) === (hex ? 112 : 101)) {
    i++;
    if (i >= n) return null;
    let esign = 1;
    if (s.charCodeAt(i) === 43) i++;
    else if (s.charCodeAt(i) === 45) {
      i++;
      esign = -1;
    }
    if (i >= n || !isDigit(s.charCodeAt(i))) return null;
    let e = 0;
    for (; i < n && (isDigit(s.charCodeAt(i)) || s.charCodeAt(i) === 95); i++) {
      if (s.charCodeAt(i) === 95) underscores = true;
      // Go stops reading exponent digits once e reaches 10000 ("it doesn't matter if it's not the
      // exact number") — which does matter for very long mantissas; ported as is.
      else if (e < 10000) e = e * 10 + s.charCodeAt(i) - 48;
    }
    dp += e * esign;
  } else if (hex) {
    return null; // a hex mantissa must have a 'p' exponent
  }
  if (underscores && !underscoreOK(s.slice(0, i))) return null;
  return { end: i, neg, hex, mantStart, mantEnd, sawdot, nd, ndAtDot, dp, mantissa, ndMant, trunc };
}

/** atoi.go underscoreOK(): underscores only between digits (or after a base prefix). */
function underscoreOK(str: string): boolean {
  let s = str;
  let saw = "^";
  let i = 0;
  if (s.length >= 1 && (s[0] === "-" || s[0] === "+")) s = s.slice(1);
  let hex = false;
  if (s.length >= 2 && s[0] === "0" && [98, 111, 120].includes(lower(s.charCodeAt(1)))) {
    i = 2;
    saw = "0"; // base prefix counts as a digit for "underscore as digit separator"
    hex = lower(s.charCodeAt(1)) === 120;
  }
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (isDigit(c) || (hex && lower(c) >= 97 && lower(c) <= 102)) {
      saw = "0";
      continue;
    }
    if (c === 95) {
      if (saw !== "0") return false;
      saw = "_";
      continue;
    }
    if (saw === "_") return false;
    saw = "!";
  }
  return saw !== "_";
}

const bitsView = new DataView(new ArrayBuffer(8));
function fromBits(bits: bigint): number {
  bitsView.setBigUint64(0, bits);
  return bitsView.getFloat64(0);
}
function toBits(f: number): bigint {
  bitsView.setFloat64(0, f);
  return bitsView.getBigUint64(0);
}

/** atof.go atofHex() for float64: round to nearest even with a sticky bit, subnormals, overflow. */
function atofHex(r: Scan): GoParsed<number> {
  const MANTBITS = 52;
  const BIAS = -1023;
  const maxExp = (1 << 11) + BIAS - 2;
  const minExp = BIAS + 1;
  let mantissa = r.mantissa;
  let exp = (mantissa !== 0n ? r.dp - r.ndMant : 0) + MANTBITS;
  while (mantissa !== 0n && mantissa >> 54n === 0n) {
    mantissa <<= 1n;
    exp--;
  }
  if (r.trunc) mantissa |= 1n;
  while (mantissa >> 55n !== 0n) {
    mantissa = (mantissa >> 1n) | (mantissa & 1n);
    exp++;
  }
  // If the exponent is too negative, denormalize in hopes of making it representable.
  while (mantissa > 1n && exp < minExp - 2) {
    mantissa = (mantissa >> 1n) | (mantissa & 1n);
    exp++;
  }
  let round = mantissa & 3n;
  mantissa >>= 2n;
  round |= mantissa & 1n; // round to even
  exp += 2;
  if (round === 3n) {
    mantissa++;
    if (mantissa === 1n << 53n) {
      mantissa >>= 1n;
      exp++;
    }
  }
  if (mantissa >> 52n === 0n) exp = BIAS; // denormal or zero
  let err: GoNumError | null = null;
  if (exp > maxExp) {
    mantissa = 1n << 52n;
    exp = maxExp + 1;
    err = "range";
  }
  let bits = (mantissa & ((1n << 52n) - 1n)) | (BigInt((exp - BIAS) & 0x7ff) << 52n);
  if (r.neg) bits |= 1n << 63n;
  return { value: fromBits(bits), err };
}

/**
 * The decimal paths of atof64(). Every path of Go's rounds correctly to the value it read, and
 * Number() rounds correctly, so the value is Number() of Go's reading of the digits — with one
 * exception: Go's slow path stores at most 800 digits and then places the decimal point after the
 * stored digits, so with more than 800 digits before the point it reads a different number. Go
 * only takes that path when Eisel-Lemire cannot decide, hence the port of both below.
 */
function atofDecimal(s: string, r: Scan): GoParsed<number> {
  const digits = s.slice(r.mantStart, r.mantEnd).replace(/[._]/g, "").replace(/^0+/, "");
  if (digits.length === 0) return { value: r.neg ? -0 : 0, err: null };
  const intDigits = r.sawdot ? r.ndAtDot : r.nd;
  let value: number;
  if (intDigits <= 800) value = Number(`${digits}e${r.dp - r.nd}`);
  else value = atofLongInteger(digits, r.dp, intDigits);
  if (r.neg) value = -value;
  return { value, err: Number.isFinite(value) ? null : "range" };
}

/** atof64() for more than 800 integer digits: Eisel-Lemire on the first 19 digits, else Go's slow path. */
function atofLongInteger(digits: string, dp: number, intDigits: number): number {
  const mantissa = BigInt(digits.slice(0, 19)); // ≥ 10^18, so atof64exact never applies
  const exp10 = dp - 19;
  const trunc = /[1-9]/.test(digits.slice(19));
  const f = eiselLemire64(mantissa, exp10);
  if (f !== null) {
    if (!trunc) return f;
    const up = eiselLemire64(mantissa + 1n, exp10);
    if (up === f) return f;
  }
  // decimal.set(): 800 digits stored, the rest only noted as truncated; the point lands after the
  // stored digits (800) instead of after all integer digits.
  const stored = digits.slice(0, 800).replace(/0+$/, "");
  const dpSet = dp - (intDigits - 800);
  const value = Number(`0.${stored}e${dpSet}`);
  // floatBits() rounds the stored digits; the truncated tail only breaks an exact tie upward.
  if (/[1-9]/.test(digits.slice(800)) && isMidpointAbove(value, BigInt(stored), dpSet - stored.length)) {
    return fromBits(toBits(value) + 1n);
  }
  return value;
}

/** Whether n × 10^p (> 0) is exactly halfway between the finite double x and the next one up. */
function isMidpointAbove(x: number, n: bigint, p: number): boolean {
  if (!Number.isFinite(x)) return false;
  const bits = toBits(x);
  const e = Number((bits >> 52n) & 0x7ffn);
  const frac = bits & ((1n << 52n) - 1n);
  const m = e === 0 ? frac : frac | (1n << 52n);
  const q = (e === 0 ? -1074 : e - 1075) - 1; // midpoint = (2m + 1) × 2^q, 2m + 1 odd
  const k = 2n * m + 1n;
  // n × 2^p × 5^p = k × 2^q
  if (p >= 0) return q >= p && n * 5n ** BigInt(p) === k << BigInt(q - p);
  const r = k * 5n ** BigInt(-p);
  return p >= q ? p === q && n === r : n === r << BigInt(q - p);
}

let powersOfTen: bigint[] | null = null;
/** eisel_lemire.go detailedPowersOfTen: 10^q for q in [-348, 347] as 128-bit mantissas, rounded down. */
function detailedPowerOfTen(q: number): bigint {
  if (powersOfTen === null) {
    powersOfTen = [];
    for (let e = -348; e <= 347; e++) {
      const d = 10n ** BigInt(Math.abs(e));
      const len = d.toString(2).length;
      if (e >= 0) powersOfTen.push(len <= 128 ? d << BigInt(128 - len) : d >> BigInt(len - 128));
      else powersOfTen.push((1n << BigInt(128 + len - 1)) / d);
    }
  }
  return powersOfTen[q + 348];
}

const U64 = (1n << 64n) - 1n;

/** eisel_lemire.go eiselLemire64() for a positive mantissa: the float64, or null when it cannot decide. */
function eiselLemire64(man: bigint, exp10: number): number | null {
  if (exp10 < -348 || exp10 > 347) return null;
  const clz = 64 - man.toString(2).length;
  man <<= BigInt(clz);
  let retExp2 = ((217706 * exp10) >> 16) + 64 + 1023 - clz;
  const pow = detailedPowerOfTen(exp10);
  const powHi = pow >> 64n;
  const powLo = pow & U64;
  const x = man * powHi;
  let xHi = x >> 64n;
  let xLo = x & U64;
  if ((xHi & 0x1ffn) === 0x1ffn && ((xLo + man) & U64) < man) {
    const y = man * powLo;
    const yHi = y >> 64n;
    const yLo = y & U64;
    let mergedHi = xHi;
    const mergedLo = (xLo + yHi) & U64;
    if (mergedLo < xLo) mergedHi = (mergedHi + 1n) & U64;
    if ((mergedHi & 0x1ffn) === 0x1ffn && ((mergedLo + 1n) & U64) === 0n && ((yLo + man) & U64) < man) return null;
    xHi = mergedHi;
    xLo = mergedLo;
  }
  const msb = xHi >> 63n;
  let retMantissa = xHi >> (msb + 9n);
  retExp2 -= 1 ^ Number(msb);
  if (xLo === 0n && (xHi & 0x1ffn) === 0n && (retMantissa & 3n) === 1n) return null; // half-way ambiguity
  retMantissa += retMantissa & 1n;
  retMantissa >>= 1n;
  if (retMantissa >> 53n > 0n) {
    retMantissa >>= 1n;
    retExp2 += 1;
  }
  if (retExp2 <= 0 || retExp2 >= 0x7ff) return null; // subnormal or overflow: the slow path decides
  return fromBits((BigInt(retExp2) << 52n) | (retMantissa & ((1n << 52n) - 1n)));
}

const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;
const UINT64_MAX = 18446744073709551615n;
const INT_SYNTAX: GoParsed<bigint> = Object.freeze({ value: 0n, err: "syntax" });

/**
 * strconv.ParseInt(s, 10, 64): optional sign, ASCII digits only. Out of range returns the clamped
 * MaxInt64 / MinInt64 with "range" — and, as in Go, overflow is reported as soon as the digits
 * read so far overflow uint64, before the rest is checked ("99999999999999999999x" is a range error).
 */
export function goParseInt(s: string): GoParsed<bigint> {
  const n = s.length;
  if (n === 0) return INT_SYNTAX;
  let i = 0;
  const c0 = s.charCodeAt(0);
  const neg = c0 === 45;
  if (c0 === 43 || c0 === 45) i = 1;
  if (i === n) return INT_SYNTAX;
  // ParseUint(s[i:], 10, 64): a plain number while it is exact, then BigInt.
  let small = 0;
  for (const end = Math.min(n, i + 15); i < end; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return INT_SYNTAX;
    small = small * 10 + d;
  }
  let un = BigInt(small);
  for (; i < n; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return INT_SYNTAX;
    un = un * 10n + BigInt(d);
    if (un > UINT64_MAX) {
      un = UINT64_MAX;
      break;
    }
  }
  if (!neg && un > INT64_MAX) return { value: INT64_MAX, err: "range" };
  if (neg && un > -INT64_MIN) return { value: INT64_MIN, err: "range" };
  return { value: neg ? -un : un, err: null };
}
