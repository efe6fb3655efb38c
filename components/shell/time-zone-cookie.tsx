"use client";

import { useRouter } from "next/navigation";
import { useEffect } from "react";

import { TZ_COOKIE } from "@/i18n/time-zone";

/**
 * Tells the server the viewer's time zone (cookie `qc_tz`), so that times rendered on the server —
 * reset times, "last changed" — are shown in the viewer's zone, as the client would show them.
 * Re-renders once when the zone is new or changed.
 */
export function TimeZoneCookie() {
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
    router.refresh();
  }, [router]);
  return null;
}
