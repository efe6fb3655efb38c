import { formatGoFloat } from "@/lib/billing/encoding";

/** A stored limit as form text: "" for null, the plain decimal otherwise (never exponent form). */
export function limitText(v: number | null): string {
  return v === null ? "" : formatGoFloat(v);
}

/**
 * A decimal literal (e.g. a planned row limit such as 9999999999.9999999999, which no float can
 * hold) as USD, digit for digit: Intl formats a numeric string exactly.
 */
export function formatUsdDecimal(locale: string, decimal: string): string {
  return new Intl.NumberFormat(locale, {
    style: "currency",
    currency: "USD",
    currencyDisplay: "narrowSymbol",
    minimumFractionDigits: 0,
    maximumFractionDigits: 10,
  }).format(decimal as `${number}`);
}
