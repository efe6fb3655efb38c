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
  let tz: string;
  try {
    tz = decodeURIComponent(raw);
  } catch {
    return undefined; // a malformed %-escape
  }
  return validTimeZone(tz) ? tz : undefined;
}

/** Zones already checked: constructing an Intl.DateTimeFormat is the costly part, done once per zone. */
const knownZones = new Map<string, boolean>();

function validTimeZone(tz: string): boolean {
  let ok = knownZones.get(tz);
  if (ok === undefined) {
    try {
      new Intl.DateTimeFormat("en", { timeZone: tz });
      ok = true;
    } catch {
      ok = false;
    }
    if (knownZones.size >= 1000) knownZones.clear(); // a cookie is client input: bounded
    knownZones.set(tz, ok);
  }
  return ok;
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
