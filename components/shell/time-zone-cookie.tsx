"use client";

import { useRouter } from "next/navigation";
import { useEffect } from "react";

import { TZ_COOKIE } from "@/i18n/time-zone";

/**
 * Tells the server the viewer's time zone (cookie `qc_tz`), so that times rendered on the server —
 * reset times, "last changed" — are shown in the viewer's zone, as the client would show them.
 * `refresh`: re-render once when the zone is new or changed — only where the page shows such
 * times (the console's pages). The root layout sets the cookie without it, so a first visit to the
 * sign-in or register page (no times on them) is never re-rendered under a form being submitted;
 * the pages behind them are then rendered with the zone from the start. Effects run children
 * first, so on a console page its own instance (refresh) sees the cookie missing, not the root's.
 */
export function TimeZoneCookie({ refresh = false }: { refresh?: boolean }) {
  const router = useRouter();
  useEffect(() => {
    const tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (!tz) return;
    const current = document.cookie
      .split("; ")
      .find((c) => c.startsWith(`${TZ_COOKIE}=`))
      ?.slice(TZ_COOKIE.length + 1);
    if (current === encodeURIComponent(tz)) return;
    document.cookie = `${TZ_COOKIE}=${encodeURIComponent(tz)}; path=/; max-age=31536000; samesite=lax`;
    if (refresh) router.refresh();
  }, [router, refresh]);
  return null;
}
