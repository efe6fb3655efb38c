import { getFormatter, getTranslations } from "next-intl/server";

import { Card } from "@/components/ui/card";
import { Link } from "@/i18n/navigation";
import { platformLabel } from "@/lib/billing/platforms";
import type { NearCapUser, TopUser } from "@/lib/quota/overview";

/** The overview's two user tables: top spenders and users near a cap, each linking to the users page. */
export async function OverviewUsers({
  topUsers,
  nearCap,
  nearCapTotal,
  nearCapTotalAtLeast = false,
}: {
  topUsers: TopUser[];
  nearCap: NearCapUser[];
  nearCapTotal: number;
  /** nearCapTotal is "more than this many" (the users list at scale) */
  nearCapTotalAtLeast?: boolean;
}) {
  const [t, tp, format] = await Promise.all([
    getTranslations("AdminOverview"),
    getTranslations("Platforms"),
    getFormatter(),
  ]);
  const money = (n: number) => format.number(n, "usd");
  const windowName = { daily: t("windowDaily"), weekly: t("windowWeekly"), monthly: t("windowMonthly") };
  const userLink = (email: string) => (
    <Link href={{ pathname: "/admin/users", query: { q: email } }} className="underline" title={t("openUsers")}>
      {email}
    </Link>
  );
  const th = "px-3 py-2 font-medium";
  const td = "px-3 py-1.5";
  return (
    <div className="mt-6 grid grid-cols-1 gap-6 lg:grid-cols-2">
      <Card title={t("topTitle")} className="min-w-0">
        <p className="-mt-1 mb-2 text-xs text-slate-600">{t("topHint")}</p>
        {topUsers.length === 0 ? (
          <p className="text-sm text-slate-600">{t("noTop")}</p>
        ) : (
          <div className="overflow-x-auto" tabIndex={0}>
            <table className="w-full min-w-max text-sm whitespace-nowrap tabular-nums" data-testid="overview-top">
              <caption className="sr-only">{t("topTitle")}</caption>
              <thead className="bg-slate-50 text-right">
                <tr>
                  <th scope="col" className={`${th} text-left`}>
                    {t("user")}
                  </th>
                  <th scope="col" className={th}>
                    {t("spendMonth")}
                  </th>
                  <th scope="col" className={th}>
                    {t("spendToday")}
                  </th>
                </tr>
              </thead>
              <tbody>
                {topUsers.map((u) => (
                  <tr key={u.id} className="border-t border-slate-100 text-right">
                    <th scope="row" className={`${td} text-left font-normal`}>
                      {userLink(u.email)}
                    </th>
                    <td className={td}>{money(u.month)}</td>
                    <td className={td}>{money(u.today)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
      <Card title={t("nearTitle")} className="min-w-0">
        <p className="-mt-1 mb-2 text-xs text-slate-600">
          {t(nearCapTotalAtLeast ? "nearHintAtLeast" : "nearHint", { shown: nearCap.length, total: nearCapTotal })}
        </p>
        {nearCap.length === 0 ? (
          <p className="text-sm text-slate-600">{t("noNear")}</p>
        ) : (
          <div className="overflow-x-auto" tabIndex={0}>
            <table className="w-full min-w-max text-sm whitespace-nowrap tabular-nums" data-testid="overview-near">
              <caption className="sr-only">{t("nearTitle")}</caption>
              <thead className="bg-slate-50 text-right">
                <tr>
                  <th scope="col" className={`${th} text-left`}>
                    {t("user")}
                  </th>
                  <th scope="col" className={`${th} text-left`}>
                    {t("platform")}
                  </th>
                  <th scope="col" className={`${th} text-left`}>
                    {t("window")}
                  </th>
                  <th scope="col" className={th}>
                    {t("used")}
                  </th>
                  <th scope="col" className={th}>
                    {t("share")}
                  </th>
                </tr>
              </thead>
              <tbody>
                {nearCap.map((u) => (
                  <tr key={u.id} className="border-t border-slate-100 text-right">
                    <th scope="row" className={`${td} text-left font-normal`}>
                      {userLink(u.email)}
                    </th>
                    <td className={`${td} text-left break-keep`}>{platformLabel(u.platform, tp)}</td>
                    <td className={`${td} text-left break-keep`}>{windowName[u.window]}</td>
                    <td className={`${td} whitespace-nowrap`}>
                      {t("usedOf", { used: money(u.used), limit: money(u.limit) })}
                    </td>
                    <td className={td}>{format.number(u.ratio, { style: "percent", maximumFractionDigits: 0 })}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
    </div>
  );
}
