import { defineRouting } from "next-intl/routing";

/** zh and en, always prefixed (/zh/…, /en/…); the first visit picks from Accept-Language. */
export const routing = defineRouting({
  locales: ["en", "zh"],
  defaultLocale: "en",
  localePrefix: "always",
  localeDetection: true,
});

export type Locale = (typeof routing.locales)[number];
