import { formats } from "@/i18n/formats";
import { formatGoFloat } from "@/lib/billing/encoding";
import { isPlatform, type Platform } from "@/lib/billing/platforms";
import { itemLimits, QUOTA_WINDOWS, type QuotaWindow } from "@/lib/billing/vocabulary";
import { emptyQuotaMap, parseLimitInput, type QuotaMap } from "@/lib/settings/quota-schema";

/** A quota matrix as the form holds it: platform → window → the cell's text. */
export type QuotaText = Record<Platform, Record<QuotaWindow, string>>;

/** In lib/billing/vocabulary.ts (no Zod there: the dashboard's client bundle imports it); re-exported. */
export { itemLimits };

/**
 * API items as form text: every platform of the registry `platforms` (received from the server as
 * data), one without an item (no row) as unlimited.
 */
export function itemsText(
  items: Array<{ platform: string } & Record<`${QuotaWindow}_limit_usd`, number | null>>,
  platforms: readonly string[],
) {
  const m = emptyQuotaMap(platforms);
  for (const i of items) if (isPlatform(i.platform, platforms)) m[i.platform] = itemLimits(i);
  return quotaText(m, platforms);
}

/** A stored limit as form text: "" for null, the plain decimal otherwise (never exponent form). */
export function limitText(v: number | null): string {
  return v === null ? "" : formatGoFloat(v);
}

/** A whole map as form text, over the registry `platforms`. */
export function quotaText(m: QuotaMap, platforms: readonly string[]): QuotaText {
  return Object.fromEntries(
    platforms.map((p) => [p, Object.fromEntries(QUOTA_WINDOWS.map((w) => [w, limitText(m[p][w])]))]),
  ) as QuotaText;
}

/** Same text in every cell of the registry `platforms`. */
export function sameQuotaText(a: QuotaText, b: QuotaText, platforms: readonly string[]): boolean {
  return platforms.every((p) => QUOTA_WINDOWS.every((w) => a[p][w] === b[p][w]));
}

/**
 * Form text → map; an invalid cell becomes null here and is reported in `errors` under
 * `${prefix}.${platform}.${window}` — the path the server reports it under too.
 */
export function parseQuotaText(
  text: QuotaText,
  prefix: string,
  errors: Record<string, string>,
  platforms: readonly string[],
): QuotaMap {
  const out = emptyQuotaMap(platforms);
  for (const p of platforms)
    for (const w of QUOTA_WINDOWS) {
      const r = parseLimitInput(text[p][w]);
      if (r.ok) out[p][w] = r.value;
      else errors[`${prefix}.${p}.${w}`] = r.code;
    }
  return out;
}

/** Server field errors ({ "quotas.openai.daily": ["NEGATIVE"] }) as cell errors: the first code of each path. */
export const cellErrors = (fieldErrors: Record<string, string[]>): Record<string, string> =>
  Object.fromEntries(Object.entries(fieldErrors).map(([k, v]) => [k, v[0]]));

/**
 * A decimal literal (e.g. a planned row limit such as 9999999999.9999999999, which no float can
 * hold) as USD, digit for digit: Intl formats a numeric string exactly (next-intl's formatter takes
 * numbers only, so this applies the same `usdExact` format itself).
 */
export function formatUsdDecimal(locale: string, decimal: string): string {
  let f = usdExactByLocale.get(locale);
  if (!f) usdExactByLocale.set(locale, (f = new Intl.NumberFormat(locale, formats.number.usdExact)));
  return f.format(decimal as `${number}`);
}

/** One formatter per locale (two locales): building an Intl.NumberFormat costs far more than formatting. */
const usdExactByLocale = new Map<string, Intl.NumberFormat>();
