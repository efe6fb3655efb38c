"use client";

import { useFormatter, useNow, useTranslations } from "next-intl";
import { useEffect, useSyncExternalStore } from "react";

import { usePolled } from "@/lib/api/use-polled";
import { platformLabel } from "@/lib/billing/platforms";
import type { QuotaItem } from "@/lib/billing/quota-view";
import { hasAnyLimit, itemLimits, QUOTA_WINDOWS } from "@/lib/billing/vocabulary";
import { publishMyQuotas } from "@/lib/quota/my-quotas-feed";
import { fetchMyQuotas, MY_QUOTAS_REFRESH_MS } from "@/lib/quota/query";
import type { MyQuotas } from "@/lib/quota/user";

/** Live quota usage: read on the server (`initial`), then refetched every 10 s and on focus (paused while hidden). */
export function QuotaCards({ initial }: { initial: MyQuotas }) {
  const t = useTranslations("Dashboard");
  const { data, error: isError } = usePolled(fetchMyQuotas, { initial, intervalMs: MY_QUOTAS_REFRESH_MS });
  useEffect(() => publishMyQuotas(data), [data]); // the lazy usage-history panel reads them too
  // Relative countdowns only after hydration: the server's "now" is not the browser's.
  const mounted = useSyncExternalStore(
    () => () => {},
    () => true,
    () => false,
  );
  // The API lists rows in registry order (QuotaRepository.listByUser).
  const ordered = (data?.platform_quotas ?? []).filter((q) => hasAnyLimit(itemLimits(q)));
  // Rows without any limit get no card, but are named so the user knows they are unlimited there.
  const tp = useTranslations("Platforms");
  const unlimited = (data?.platform_quotas ?? [])
    .filter((q) => !ordered.includes(q))
    .map((q) => platformLabel(q.platform, tp));
  return (
    <section aria-labelledby="quota-title" className="mt-8">
      <div className="mb-3 flex items-baseline justify-between">
        <h2 id="quota-title" className="text-lg font-semibold">
          {t("quotaTitle")}
        </h2>
        <span className="text-xs text-slate-500">{t("live")}</span>
      </div>
      {isError && !data ? (
        <p role="alert" className="rounded-md bg-red-50 px-3 py-2 text-sm text-red-800">
          {t("loadFailed")}
        </p>
      ) : null}
      {data && ordered.length === 0 ? (
        <p
          className="rounded-xl border border-dashed border-slate-300 p-6 text-center text-slate-600"
          data-testid="no-limits"
        >
          {t("noLimits")}
        </p>
      ) : null}
      <div className="grid gap-4 md:grid-cols-2 xl:grid-cols-3">
        {ordered.map((q) => (
          <QuotaCard key={q.platform} item={q} showRelative={mounted} />
        ))}
      </div>
      {ordered.length > 0 && unlimited.length > 0 ? (
        <p className="mt-3 text-sm text-slate-600" data-testid="unlimited-platforms">
          {t("unlimitedPlatforms", { platforms: unlimited.join(", ") })}
        </p>
      ) : null}
    </section>
  );
}

function QuotaCard({ item, showRelative }: { item: QuotaItem; showRelative: boolean }) {
  const t = useTranslations("Dashboard");
  const tp = useTranslations("Platforms");
  const format = useFormatter();
  const now = useNow({ updateInterval: 30_000 });
  const name = platformLabel(item.platform, tp); // a fork's platform by its raw name
  const money = (n: number) => format.number(n, "usd");
  const when = (iso: string) => format.dateTime(new Date(iso), "monthDayTime");
  const label = { daily: t("daily"), weekly: t("weekly"), monthly: t("monthly") };
  const blocking = QUOTA_WINDOWS.find((w) => {
    const limit = item[`${w}_limit_usd`];
    return limit !== null && item[`${w}_usage_usd`] >= limit;
  });
  return (
    <article
      className={`rounded-xl border bg-white p-4 shadow-sm ${blocking ? "border-red-300" : "border-slate-200"}`}
      data-quota-card={item.platform}
    >
      <h3 className="font-semibold">{name}</h3>
      {blocking ? (
        <p
          role="status"
          className="mt-2 rounded-md bg-red-50 px-3 py-2 text-sm text-red-800"
          data-testid={`blocked-${item.platform}`}
        >
          {item[`${blocking}_limit_usd`] === 0
            ? t("blockedDisabled", { window: label[blocking], platform: name })
            : t("blocked", {
                window: label[blocking],
                platform: name,
                time: item[`${blocking}_window_resets_at`] ? when(item[`${blocking}_window_resets_at`]!) : "—",
              })}
        </p>
      ) : null}
      <dl className="mt-3 space-y-3">
        {QUOTA_WINDOWS.map((w) => {
          const limit = item[`${w}_limit_usd`];
          const used = item[`${w}_usage_usd`];
          const resets = item[`${w}_window_resets_at`];
          if (limit === null) {
            return (
              <div key={w} className="flex justify-between text-sm text-slate-500" data-window={w}>
                <dt>{label[w]}</dt>
                <dd>{t("unlimited")}</dd>
              </div>
            );
          }
          const pct = limit === 0 ? 100 : Math.max(0, Math.min(100, Math.round((used / limit) * 100)));
          const color = limit === 0 || pct >= 95 ? "bg-red-600" : pct >= 75 ? "bg-amber-500" : "bg-green-600";
          const exhausted = limit > 0 && used >= limit;
          return (
            // dt + dd only inside the group (a definition list's rule): the bar and the reset line
            // are a second dd of the same term, wrapped onto their own line.
            <div key={w} data-window={w} className="flex flex-wrap items-baseline justify-between gap-x-2 text-sm">
              <dt className="font-medium">{label[w]}</dt>
              <dd className="tabular-nums" data-testid={`usage-${item.platform}-${w}`}>
                {limit === 0 ? (
                  <span className="font-medium text-red-700">{t("disabled")}</span>
                ) : (
                  <>
                    {t("used", { used: money(used), limit: money(limit) })}
                    <span className={`ml-2 text-xs ${exhausted ? "font-medium text-red-700" : "text-slate-500"}`}>
                      {exhausted ? t("exhausted") : t("remaining", { amount: money(Math.max(0, limit - used)) })}
                    </span>
                  </>
                )}
              </dd>
              <dd className="w-full">
                <div
                  role="progressbar"
                  aria-label={t("progressLabel", { platform: name, window: label[w] })}
                  aria-valuemin={0}
                  aria-valuemax={100}
                  aria-valuenow={pct}
                  aria-valuetext={limit === 0 ? t("disabled") : t("used", { used: money(used), limit: money(limit) })}
                  className="mt-1 h-2 overflow-hidden rounded-full bg-slate-100"
                >
                  <div className={`h-full ${color}`} style={{ width: `${pct}%` }} />
                </div>
                {resets ? (
                  <p className="mt-1 text-xs text-slate-500" data-testid={`resets-${item.platform}-${w}`}>
                    {t("resetsAt", { time: when(resets) })}
                    {showRelative ? (
                      <> · {t("resetsIn", { relative: format.relativeTime(new Date(resets), now) })}</>
                    ) : null}
                  </p>
                ) : null}
              </dd>
            </div>
          );
        })}
      </dl>
    </article>
  );
}
