import { hasLocale, type Locale } from "next-intl";
import { notFound } from "next/navigation";

import { routing } from "./routing";

/** A route's `[locale]` param as a Locale; any other value is a 404, as the locale layout answers. */
export async function pageLocale(params: Promise<{ locale: string }>): Promise<Locale> {
  const { locale } = await params;
  if (!hasLocale(routing.locales, locale)) notFound();
  return locale;
}
