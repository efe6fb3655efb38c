import { formatGoFloat } from "@/lib/billing/encoding";

import { emptyQuotaMap as emptyMap, type Limits, type QuotaMap } from "./quota-schema";

/**
 * The settings value of a quota map, byte for byte as the Go gateway writes it (spec §2.1):
 * json.Marshal of map[string]DefaultPlatformQuotaSetting — keys sorted, each platform
 * {"daily":…,"weekly":…,"monthly":…} in that order, nil as null, numbers in Go's JSON float format.
 */
export function goJsonNumber(n: number): string {
  if (!Number.isFinite(n)) throw new Error(`unsupported value ${n}`);
  const abs = Math.abs(n);
  // encoding/json: 'e' format below 1e-6 and from 1e21 (with "e-07" cleaned to "e-7", which is
  // exactly how JavaScript prints exponents); 'f' shortest otherwise.
  if (abs !== 0 && (abs < 1e-6 || abs >= 1e21)) return String(n);
  return formatGoFloat(n);
}

const limitJson = (v: number | null) => (v === null ? "null" : goJsonNumber(v));

export function encodeQuotaMap(map: Partial<Record<string, Limits | null>>): string {
  const keys = Object.keys(map).sort(); // Go sorts map keys by bytes; platform names are ASCII
  const parts = keys.map((k) => {
    const l = map[k];
    const body = l
      ? `{"daily":${limitJson(l.daily)},"weekly":${limitJson(l.weekly)},"monthly":${limitJson(l.monthly)}}`
      : "null";
    return `${JSON.stringify(k)}:${body}`;
  });
  return `{${parts.join(",")}}`;
}

export type DecodedQuotaMap =
  { ok: true; map: QuotaMap; present: boolean } | { ok: false; map: QuotaMap; present: true };

/**
 * A stored value → full map of the registry `platforms`, read the way the gateway reads it: missing
 * platforms or fields are null, platforms outside the registry are ignored. A value Go could not unmarshal (not an object,
 * a non-number limit, a number out of float64 range) is { ok: false } with an empty map — the
 * gateway treats it as "no configuration"; callers must report it, never grant silently.
 */
export function decodeQuotaMap(raw: string | null | undefined, platforms: readonly string[]): DecodedQuotaMap {
  const emptyQuotaMap = () => emptyMap(platforms);
  if (raw === null || raw === undefined) return { ok: true, map: emptyQuotaMap(), present: false };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return { ok: false, map: emptyQuotaMap(), present: true };
  }
  if (parsed === null) return { ok: true, map: emptyQuotaMap(), present: true }; // Go: nil map, no error
  if (typeof parsed !== "object" || Array.isArray(parsed)) return { ok: false, map: emptyQuotaMap(), present: true };
  const obj = parsed as Record<string, unknown>;
  const map = emptyQuotaMap();
  for (const [key, v] of Object.entries(obj)) {
    if (v === null) continue;
    if (typeof v !== "object" || Array.isArray(v)) return { ok: false, map: emptyQuotaMap(), present: true };
    const limits: Limits = { daily: null, weekly: null, monthly: null };
    for (const [field, value] of Object.entries(v as Record<string, unknown>)) {
      if (field !== "daily" && field !== "weekly" && field !== "monthly") continue; // Go ignores unknown fields
      if (value === null) continue;
      if (typeof value !== "number" || !Number.isFinite(value))
        return { ok: false, map: emptyQuotaMap(), present: true };
      limits[field] = value;
    }
    if (platforms.includes(key)) map[key] = limits;
  }
  return { ok: true, map, present: true };
}
