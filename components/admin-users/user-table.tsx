import { getLocale, getTimeZone, getTranslations } from "next-intl/server";

import { formats } from "@/i18n/formats";
import { isAuthSource } from "@/lib/auth-sources";
import { DEFAULT_PLATFORMS } from "@/lib/billing/platforms";
import type { UserListRow } from "@/lib/users/list";
import { packQuotaCells, toQuotaCells } from "@/lib/users/quota-cells";

import { LiveQuotaCells } from "./live-quota-cells";
import { QuotaSummaryHeader, type QuotaSummaryLabels } from "./quota-summary";
import { UserQuotaModalProvider } from "./use-user-quota-modal";
import { UserRows, type UserRowData } from "./user-rows";

/**
 * The rows' balance and date formatters, built from the app's named formats exactly as next-intl
 * builds them (the locale, the format, the viewer's zone for dates) and kept per locale and zone:
 * format.number / format.dateTime resolve the name and look the formatter up again on each of the
 * 100 calls per page (~1 ms). Bounded: the zone comes from a cookie.
 */
const rowFormats = new Map<string, { usd: Intl.NumberFormat; date: Intl.DateTimeFormat }>();

function rowFormat(locale: string, timeZone: string) {
  const key = `${locale}|${timeZone}`;
  let f = rowFormats.get(key);
  if (!f) {
    if (rowFormats.size >= 100) rowFormats.clear();
    f = {
      usd: new Intl.NumberFormat(locale, formats.number.usd),
      date: new Intl.DateTimeFormat(locale, { ...formats.dateTime.date, timeZone }),
    };
    rowFormats.set(key, f);
  }
  return f;
}

/**
 * The users list: the header is a server component; the body (user-rows.tsx) gets each user as one
 * compact record of what the row shows, already formatted, so the page's inline RSC payload stays a
 * few dozen bytes per row. Its quota column is live (live-quota-cells.tsx); quotas open the per-user
 * modal; status through its action; a 7-day spend sparkline per row. On a phone the table scrolls
 * inside its own box (`relative` keeps the visually hidden header inside it, so the page never widens).
 * Cell padding and each column's alignment are set once for the table (.users-table in
 * app/globals.css), not repeated on every cell of 50 rows: the columns' order is user-rows.tsx's.
 */
export async function UserTable({
  users,
  currentUserId,
  at,
  groups = false,
  spark,
}: {
  users: UserListRow[];
  currentUserId: number;
  /** when the rows' usage was read */
  at: string;
  /** show the gateway's groups column (where the gateway's tables exist: listUsersWithQuotas' `groups`) */
  groups?: boolean;
  /** the sparkline: its days (quota time zone, oldest first) and each user's cost per day */
  spark: { days: string[]; spend: Map<number, number[]>; zone: string };
}) {
  const [t, tn, ts, tm, tp, locale, timeZone] = await Promise.all([
    getTranslations("AdminUsers"),
    getTranslations("Nav"),
    getTranslations("Sources"),
    getTranslations("UserQuotaModal"),
    getTranslations("Platforms"),
    getLocale(),
    getTimeZone(),
  ]);
  const labels: QuotaSummaryLabels = {
    notConfigured: t("notConfigured"),
    disabled: tm("disabled"),
    windows: { daily: tm("windowDaily"), weekly: tm("windowWeekly"), monthly: tm("windowMonthly") },
    platforms: Object.fromEntries(DEFAULT_PLATFORMS.map((p) => [p, tp(p)])), // others: raw name
  };
  if (users.length === 0)
    return (
      <p className="rounded-xl border border-dashed border-slate-300 p-8 text-center text-slate-600">
        {t("noResults")}
      </p>
    );
  const snapshot = packQuotaCells(
    at,
    users.map((u) => [u.id, toQuotaCells(u.quotas)]),
  );
  const sources = new Map<string, string>(); // a handful of sources over 50 rows
  const sourceLabel = (s: string) => {
    let label = sources.get(s);
    if (label === undefined) sources.set(s, (label = isAuthSource(s) ? ts(s) : s));
    return label;
  };
  const format = rowFormat(locale, timeZone);
  const rows: UserRowData[] = users.map((u) => {
    const spend = spark.spend.get(u.id);
    return [
      u.id,
      u.email,
      u.username ?? "",
      u.role === "admin" ? 1 : 0,
      u.status === "disabled" ? 1 : 0,
      format.usd.format(Number(u.balance)),
      sourceLabel(u.signupSource),
      format.date.format(new Date(u.createdAt)),
      spend && spend.some((v) => v !== 0) ? spend : [],
      groups ? (u.groups ?? []) : null,
    ];
  });
  const th = "font-medium whitespace-nowrap";
  return (
    <UserQuotaModalProvider>
      <LiveQuotaCells initial={snapshot} labels={labels}>
        <div className="relative overflow-x-auto rounded-xl border border-slate-200 bg-white shadow-sm">
          <table className="users-table min-w-full text-sm">
            <thead className="bg-slate-50 text-left text-slate-600">
              <tr>
                <th className={th}>{t("columns.email")}</th>
                <th className={th}>{t("columns.source")}</th>
                <th className={th}>{t("columns.role")}</th>
                <th className={th}>{t("columns.status")}</th>
                <th className={`text-right ${th}`}>{t("columns.balance")}</th>
                <th className={th}>
                  <QuotaSummaryHeader title={t("columns.quotas")} labels={labels} />
                </th>
                <th className={th}>{t("columns.spend7d")}</th>
                {groups ? <th className={th}>{t("columns.groups")}</th> : null}
                <th className={th}>{t("columns.createdAt")}</th>
                <th>
                  <span className="sr-only">{t("columns.actions")}</span>
                </th>
              </tr>
            </thead>
            <UserRows
              rows={rows}
              currentUserId={currentUserId}
              groups={groups}
              sparkDays={spark.days}
              sparkZone={spark.zone}
              labels={{ admin: tn("roleAdmin"), user: tn("roleUser") }}
            />
          </table>
        </div>
      </LiveQuotaCells>
    </UserQuotaModalProvider>
  );
}
