import type { formats } from "@/i18n/formats";
import type { routing } from "@/i18n/routing";

import type messages from "./messages/en.json";

/**
 * next-intl's type augmentation (next-intl.dev/docs/workflows/typescript): message keys, locales
 * and format names are checked by tsc, so `t("missing")` or an unknown format fails the typecheck.
 * en is the reference catalog; tests/unit/messages.test.ts keeps zh's keys and arguments equal.
 */
declare module "next-intl" {
  interface AppConfig {
    Locale: (typeof routing.locales)[number];
    Messages: typeof messages;
    Formats: typeof formats;
  }
}
