/** The cookie in which the browser reports the viewer's IANA time zone (components/shell/time-zone-cookie.tsx writes it, i18n/request.ts reads it). */
export const TZ_COOKIE = "qc_tz";
