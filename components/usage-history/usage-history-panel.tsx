"use client";

import { useQuery } from "@tanstack/react-query";
import { useFormatter, useLocale, useNow, useTranslations } from "next-intl";
import { useMemo, useState } from "react";

import { platformLabel } from "@/lib/billing/platforms";
import type { QuotaItem } from "@/lib/billing/quota-view";
import { QUOTA_WINDOWS, type QuotaWindow } from "@/lib/billing/vocabulary";
import type { UserUsageHistory } from "@/lib/quota/history";
import { fetchMyHistory, fetchUserHistory, HISTORY_DAYS, historyKeys } from "@/lib/quota/history-query";
import {
  dayTotals,
  itemWindows,
  platformSeries,
  project,
  RATE_DAYS,
  recentRate,
  weekToDate,
  windowToDate,
  type Projection,
} from "@/lib/quota/history-series";
import { fetchMyQuotas, fetchUserQuotas, quotaKeys } from "@/lib/quota/query";

import { dayLabel, dayLong, HistoryTable, SERIES_COLORS } from "./history-table";
import { UsageChart, type ChartSeries } from "./usage-chart";

export type HistoryScope = { kind: "me" } | { kind: "user"; userId: number };

/**
 * Daily spend per platform over the last 30 quota days, the current limits as dashed lines, the
 * "at this rate" projection and the data table — for the signed-in user (dashboard) or, for an
 * admin, one user (quota modal). Loaded lazily (lazy.tsx) with uPlot: none of it is in a page's
 * first load. The quotas come from the query the page already has (same key), so the projection
 * starts from the live usage the gateway enforces, not from the history's sums.
 */
export function UsageHistoryPanel({ scope }: { scope: HistoryScope }) {
  const t = useTranslations("UsageHistory");
  const tp = useTranslations("Platforms");
  const format = useFormatter();
  const locale = useLocale();
  const self = scope.kind === "me";
  const userId = scope.kind === "user" ? scope.userId : 0;
  const history = useQuery({
    queryKey: self ? historyKeys.mine(HISTORY_DAYS) : historyKeys.user(userId, HISTORY_DAYS),
    queryFn: ({ signal }) =>
      self ? fetchMyHistory(HISTORY_DAYS, { signal }) : fetchUserHistory(userId, HISTORY_DAYS, { signal }),
    staleTime: 60_000,
  });
  const quotas = useQuery<{ platform_quotas: QuotaItem[] }>({
    queryKey: self ? quotaKeys.mine : quotaKeys.user(userId),
    queryFn: ({ signal }) => (self ? fetchMyQuotas({ signal }) : fetchUserQuotas(userId, { signal })),
  });
  const [selected, setSelected] = useState<string>("");
  const now = useNow({ updateInterval: 60_000 }).getTime();

  if (history.isError)
    return (
      <p role="alert" className="rounded-md bg-red-50 px-3 py-2 text-sm text-red-800">
        {t("loadFailed")}
      </p>
    );
  if (!history.data) return <p className="py-6 text-center text-sm text-slate-500">{t("loading")}</p>;
  return (
    <HistoryView
      data={history.data}
      items={quotas.data?.platform_quotas ?? null}
      self={self}
      selected={selected}
      onSelect={setSelected}
      t={t}
      name={(p) => platformLabel(p, tp)}
      money={(n) => format.number(n, "usdLedger")}
      moneyShort={(n) => format.number(n, "usd")}
      when={(ms) => format.dateTime(new Date(ms), "monthDayTime")}
      locale={locale}
      now={now}
    />
  );
}

type T = ReturnType<typeof useTranslations<"UsageHistory">>;

function HistoryView({
  data,
  items,
  self,
  selected,
  onSelect,
  t,
  name,
  money,
  moneyShort,
  when,
  locale,
  now,
}: {
  data: UserUsageHistory;
  items: QuotaItem[] | null;
  self: boolean;
  selected: string;
  onSelect: (p: string) => void;
  t: T;
  name: (p: string) => string;
  money: (n: number) => string;
  moneyShort: (n: number) => string;
  when: (ms: number) => string;
  locale: string;
  now: number;
}) {
  const limited = (p: string) => {
    const l = data.limits.find((x) => x.platform === p);
    return !!l && (l.daily !== null || l.weekly !== null || l.monthly !== null);
  };
  // Platforms with a limit (registry order) or usage in the range; the others would be flat zeros.
  const series = useMemo(
    () =>
      platformSeries(
        data.days,
        data.usage,
        data.limits.map((l) => l.platform),
      ).filter((s) => limited(s.platform) || s.values.some((v) => v !== 0)),
    // eslint-disable-next-line react-hooks/exhaustive-deps -- `limited` reads only data.limits
    [data],
  );
  const color = (p: string) =>
    SERIES_COLORS[
      Math.max(
        0,
        series.findIndex((s) => s.platform === p),
      ) % 8
    ];
  const labels = useMemo(() => data.days.map((d) => dayLabel(d, locale)), [data.days, locale]);
  const current = series.find((s) => s.platform === selected) ?? null;
  const windowName = { daily: t("windowDaily"), weekly: t("windowWeekly"), monthly: t("windowMonthly") };

  const chartSeries = useMemo((): ChartSeries[] => {
    const flat = (v: number | null) => data.days.map(() => v);
    const out: ChartSeries[] = [];
    const shown = current ? [current] : series;
    for (const s of shown) {
      const l = data.limits.find((x) => x.platform === s.platform);
      const c = color(s.platform);
      out.push({
        label: t("seriesDaily", { platform: name(s.platform) }),
        color: c,
        values: s.values,
        style: current ? "bars" : "line",
      });
      if (l?.daily != null)
        out.push({
          label: t("limitDaily", { platform: name(s.platform) }),
          color: c,
          values: flat(l.daily),
          style: "limit",
        });
      if (!current) continue;
      // One platform: its weekly and 30-day windows too, each as spend-so-far against its limit.
      if (l?.weekly != null) {
        out.push({
          label: t("seriesWeek", { platform: name(s.platform) }),
          color: "#0f172a",
          values: weekToDate(data.days, s.values),
          style: "line",
        });
        out.push({
          label: t("limitWeekly", { platform: name(s.platform) }),
          color: "#0f172a",
          values: flat(l.weekly),
          style: "limit",
        });
      }
      const item = items?.find((i) => i.platform === s.platform);
      if (l?.monthly != null) {
        out.push({
          label: t("seriesMonth", { platform: name(s.platform) }),
          color: "#7e22ce",
          values: windowToDate(data.days, s.values, item?.monthly_window_resets_at ?? null, data.time_zone),
          style: "line",
        });
        out.push({
          label: t("limitMonthly", { platform: name(s.platform) }),
          color: "#7e22ce",
          values: flat(l.monthly),
          style: "limit",
        });
      }
    }
    return out;
    // eslint-disable-next-line react-hooks/exhaustive-deps -- t/name/color are stable for a render's data
  }, [data, series, current, items]);

  const totals = dayTotals(data.days, series);
  const projections: Array<{ platform: string; p: Projection; rate: number }> = [];
  for (const s of series) {
    const item = items?.find((i) => i.platform === s.platform);
    if (!item) continue;
    const rate = recentRate(s.values);
    for (const p of project(itemWindows(item), rate, now)) projections.push({ platform: s.platform, p, rate });
  }
  const sentence = ({ platform, p }: { platform: string; p: Projection }) => {
    const args = { window: windowName[p.window], platform: name(platform), limit: moneyShort(p.limit) };
    const who = self ? "self" : "user";
    switch (p.kind) {
      case "reached":
        return t(`${who}Reached`, args);
      case "reaches":
        return t(`${who}Reaches`, { ...args, time: when(p.at) });
      case "resetsFirst":
        return t(`${who}ResetsFirst`, { ...args, time: when(p.resetsAt) });
      case "noSpend":
        return t(`${who}NoSpend`, { ...args, n: RATE_DAYS });
    }
  };
  const from = dayLong(data.days[0], locale);
  const to = dayLong(data.days[data.days.length - 1], locale);

  return (
    <div data-testid="usage-history" className="min-w-0">
      <p className="text-xs text-slate-600" data-testid="history-zone">
        {t("zoneNote", { zone: data.time_zone })}
      </p>
      {series.length === 0 ? (
        <p
          className="mt-3 rounded-md border border-dashed border-slate-300 p-4 text-center text-sm text-slate-600"
          data-testid="history-empty"
        >
          {t("noUsage", { days: data.days.length })}
        </p>
      ) : (
        <>
          <div className="mt-3 flex flex-wrap gap-1" role="group" aria-label={t("platformPicker")}>
            {[
              { key: "", text: t("allPlatforms") },
              ...series.map((s) => ({ key: s.platform, text: name(s.platform) })),
            ].map((o) => (
              <button
                key={o.key || "all"}
                type="button"
                aria-pressed={selected === o.key || (!current && o.key === "")}
                onClick={() => onSelect(o.key)}
                className="rounded-full border border-slate-300 px-3 py-1 text-xs break-keep aria-pressed:border-slate-900 aria-pressed:bg-slate-900 aria-pressed:text-white"
              >
                {o.text}
              </button>
            ))}
          </div>
          <div className="mt-3">
            <UsageChart
              labels={labels}
              series={chartSeries}
              formatY={moneyShort}
              label={t("chartLabel", { from, to })}
              xLabel={t("day")}
              testId="history-chart"
            />
          </div>
          <HistoryTable
            summary={t("showTable")}
            caption={t("tableCaption", { zone: data.time_zone })}
            dayHeader={t("day")}
            days={data.days.map((d) => dayLong(d, locale))}
            testId="history-table"
            columns={[
              ...series.map((s) => ({
                key: s.platform,
                header: name(s.platform),
                cells: s.costs.map((c) => money(Number(c))),
              })),
              ...(series.length > 1
                ? [{ key: "total", header: t("total"), cells: totals.map((c) => money(Number(c))) }]
                : []),
            ]}
          />
          <LimitsTable data={data} series={series.map((s) => s.platform)} t={t} name={name} money={moneyShort} />
        </>
      )}
      {projections.length > 0 ? (
        <div className="mt-4" data-testid="history-projection">
          <h3 className="text-sm font-semibold">{t("projectionTitle")}</h3>
          <ul className="mt-1 space-y-1 text-sm">
            {projections.map((x) => (
              <li
                key={`${x.platform}-${x.p.window}`}
                data-projection={`${x.platform}-${x.p.window}`}
                data-kind={x.p.kind}
              >
                {sentence(x)}
              </li>
            ))}
          </ul>
          <p className="mt-1 text-xs text-slate-600">{t("projectionRule", { n: RATE_DAYS })}</p>
        </div>
      ) : null}
    </div>
  );
}

/** The limits drawn as lines, as a table too (the chart's dashed lines in words). */
function LimitsTable({
  data,
  series,
  t,
  name,
  money,
}: {
  data: UserUsageHistory;
  series: string[];
  t: T;
  name: (p: string) => string;
  money: (n: number) => string;
}) {
  const rows = data.limits.filter((l) => series.includes(l.platform) && QUOTA_WINDOWS.some((w) => l[w] !== null));
  if (rows.length === 0) return null;
  const cell = (v: number | null) => (v === null ? t("unlimited") : v === 0 ? t("disabled") : money(v));
  const head: Record<QuotaWindow, string> = {
    daily: t("limitDailyHeader"),
    weekly: t("limitWeeklyHeader"),
    monthly: t("limitMonthlyHeader"),
  };
  return (
    <details className="mt-2 text-sm">
      <summary className="cursor-pointer text-slate-700 underline">{t("showLimits")}</summary>
      <table className="mt-2 w-full border-collapse text-right tabular-nums" data-testid="history-limits">
        <caption className="sr-only">{t("limitsCaption")}</caption>
        <thead className="bg-slate-50">
          <tr>
            <th scope="col" className="px-3 py-2 text-left font-medium">
              {t("platform")}
            </th>
            {QUOTA_WINDOWS.map((w) => (
              <th key={w} scope="col" className="px-3 py-2 font-medium break-keep">
                {head[w]}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((l) => (
            <tr key={l.platform} className="border-t border-slate-100" data-platform={l.platform}>
              <th scope="row" className="px-3 py-1.5 text-left font-normal">
                {name(l.platform)}
              </th>
              {QUOTA_WINDOWS.map((w) => (
                <td key={w} data-window={w} className="px-3 py-1.5">
                  {cell(l[w])}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </details>
  );
}
