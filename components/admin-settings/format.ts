import { formatGoFloat } from "@/lib/billing/encoding";

/** A stored limit as form text: "" for null, the plain decimal otherwise (never exponent form). */
export function limitText(v: number | null): string {
  return v === null ? "" : formatGoFloat(v);
}
