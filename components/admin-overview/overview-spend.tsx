import { getFormatter, getTranslations } from "next-intl/server";

import { Card } from "@/components/ui/card";
import { dayLabel, dayLong, HistoryTable, SERIES_COLORS } from "@/components/usage-history/history-table";
import { LazyMoneyChart } from "@/components/usage-history/lazy";
import { platformLabel } from "@/lib/billing/platforms";
import type { getUsageOverview } from "@/lib/quota/history";
import { dayTotals, platformSeries } from "@/lib/quota/history-series";

type Overview = Awaited<ReturnType<typeof getUsageOverview>>;

/**
 * Every user's spend per platform and quota day: the data table is rendered here on the server (no
 * script needed to read it), the chart is the lazy uPlot chunk, mounted after hydration.
 */
export async function OverviewSpend({ history, locale }: { history: Overview; locale: string }) {
  const [t, tp, format] = await Promise.all([
    getTranslations("AdminOverview"),
    getTranslations("Platforms"),
    getFormatter(),
  ]);
  const series = platformSeries(history.days, history.usage).filter((s) => s.values.some((v) => v !== 0));
  const money = (c: string) => format.number(Number(c), "usdLedger");
  const name = (p: string) => platformLabel(p, tp);
  const days = history.days;
  return (
    <Card title={t("spendTitle", { days: days.length })}>
      <p className="text-xs text-slate-600" data-testid="overview-zone">
        {t("zoneNote", { zone: history.time_zone })}
        {history.today_as_of ? (
          <> {t("todayAsOf", { time: format.dateTime(new Date(history.today_as_of), "dateTimeSeconds") })}</>
        ) : null}
      </p>
      {series.length === 0 ? (
        <p className="mt-3 rounded-md border border-dashed border-slate-300 p-4 text-center text-sm text-slate-600">
          {t("noUsage", { days: days.length })}
        </p>
      ) : (
        <>
          <div className="mt-3">
            <LazyMoneyChart
              labels={days.map((d) => dayLabel(d, locale))}
              series={series.map((s, i) => ({
                label: name(s.platform),
                color: SERIES_COLORS[i % SERIES_COLORS.length],
                values: s.values,
                style: "line" as const,
              }))}
              label={t("chartLabel", { from: dayLong(days[0], locale), to: dayLong(days[days.length - 1], locale) })}
              xLabel={t("day")}
              testId="overview-chart"
            />
          </div>
          <HistoryTable
            summary={t("showTable")}
            caption={t("tableCaption", { zone: history.time_zone })}
            dayHeader={t("day")}
            days={days.map((d) => dayLong(d, locale))}
            testId="overview-table"
            columns={[
              ...series.map((s) => ({ key: s.platform, header: name(s.platform), cells: s.costs.map(money) })),
              { key: "total", header: t("total"), cells: dayTotals(days, series).map(money) },
            ]}
          />
        </>
      )}
    </Card>
  );
}
