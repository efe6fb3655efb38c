import { hasLocale } from "next-intl";
import { getRequestConfig } from "next-intl/server";
import { cookies } from "next/headers";

import { formats } from "./formats";
import { routing } from "./routing";
import { TZ_COOKIE } from "./time-zone";

/** The viewer's IANA time zone from the `qc_tz` cookie (set by <TimeZoneCookie/>), if valid. */
async function viewerTimeZone(): Promise<string | undefined> {
  const raw = (await cookies()).get(TZ_COOKIE)?.value;
  if (!raw) return undefined;
  const tz = decodeURIComponent(raw);
  try {
    new Intl.DateTimeFormat("en", { timeZone: tz });
    return tz;
  } catch {
    return undefined;
  }
}

export default getRequestConfig(async ({ requestLocale }) => {
  const requested = await requestLocale;
  const locale = hasLocale(routing.locales, requested) ? requested : routing.defaultLocale;
  return {
    locale,
    messages: (await import(`../messages/${locale}.json`)).default,
    timeZone: (await viewerTimeZone()) ?? "UTC",
    formats,
  };
});
