import type { Formats } from "next-intl";

/**
 * The app's number and date formats, once (next-intl global formats, returned by i18n/request.ts
 * and inherited by the client provider): `format.number(n, "usd")`, `format.dateTime(d, "date")`.
 * The viewer's time zone is applied by next-intl on top of these.
 */
export const formats = {
  number: {
    /** money as the gateway shows it: $5.00 */
    usd: { style: "currency", currency: "USD", currencyDisplay: "narrowSymbol" },
    /** a configured limit with every decimal it has (up to the 10 the rows hold): $0.123 */
    usdExact: {
      style: "currency",
      currency: "USD",
      currencyDisplay: "narrowSymbol",
      minimumFractionDigits: 0,
      maximumFractionDigits: 10,
    },
    /** ledger amounts side by side (Cache health's drift table): $0.000125 */
    usdLedger: {
      style: "currency",
      currency: "USD",
      currencyDisplay: "narrowSymbol",
      minimumFractionDigits: 2,
      maximumFractionDigits: 6,
    },
  },
  dateTime: {
    /** Dec 2, 2026 */
    date: { dateStyle: "medium" },
    /** Dec 2, 2026, 5:00 PM GMT+8 — every instant shown names its zone (issue 13 #7) */
    dateTime: {
      year: "numeric",
      month: "short",
      day: "numeric",
      hour: "numeric",
      minute: "2-digit",
      timeZoneName: "short",
    },
    /** Dec 2, 2026, 5:00:00 PM GMT+8 */
    dateTimeSeconds: {
      year: "numeric",
      month: "short",
      day: "numeric",
      hour: "numeric",
      minute: "2-digit",
      second: "2-digit",
      timeZoneName: "short",
    },
    /** 05:00:00 PM */
    clock: { hour: "2-digit", minute: "2-digit", second: "2-digit" },
    /** Dec 2, 05:00 PM GMT+8 (reset times: the dashboard's and the quota modal's alike) */
    monthDayTime: { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", timeZoneName: "short" },
  },
} satisfies Formats;
