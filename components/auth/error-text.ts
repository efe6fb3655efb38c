import type { useTranslations } from "next-intl";

import { knownKey } from "@/i18n/known-key";

type Translator = ReturnType<typeof useTranslations<"Errors">>;

/**
 * An action's error code as text in the reader's language. A code without a message (a new one,
 * or text no schema should produce) shows the generic INVALID_INPUT message, never the raw code.
 */
export function errorText(
  te: Translator,
  code: string | undefined,
  values?: Record<string, string | number>,
): string | null {
  if (!code) return null;
  return te(knownKey(te, code, "INVALID_INPUT"), values);
}
