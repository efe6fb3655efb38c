"use client";

import { useFormatter, useLocale, useTranslations } from "next-intl";

import { formatUsdDecimal } from "@/components/quota/format";
import type { AuthSource } from "@/lib/auth-sources";
import { formatGoFloat } from "@/lib/billing/encoding";
import { platformLabel } from "@/lib/billing/platforms";
import { QUOTA_WINDOWS } from "@/lib/billing/vocabulary";
import type { PlannedLimit, planSignupDefaults } from "@/lib/settings/signup-plan";

/** A limit as the settings form names it: Unlimited, Disabled, or USD with every decimal it has. */
export function useShowLimit() {
  const t = useTranslations("AdminSettings");
  const format = useFormatter();
  return (v: number | null) => (v === null ? t("unlimited") : v === 0 ? t("disabled") : format.number(v, "usdExact"));
}

/**
 * What a new user of `source` gets (planSignupDefaults, the function sign-up uses): each cell's
 * limit, where it comes from (the source's override or the system default), and a marker where
 * the stored value cannot be used as stored.
 */
export function SignupPreview({
  source,
  plan,
  staleNote,
}: {
  source: AuthSource;
  plan: ReturnType<typeof planSignupDefaults>;
  /** the form is edited while what is stored has fallbacks: the preview shows the state after a save */
  staleNote: boolean;
}) {
  const t = useTranslations("AdminSettings");
  const tp = useTranslations("Platforms");
  const ts = useTranslations("Sources");
  const th = useTranslations("SettingsHealth");
  const locale = useLocale();
  const windowName = { daily: t("windowDaily"), weekly: t("windowWeekly"), monthly: t("windowMonthly") };
  const showLimit = (d: string | null) =>
    d === null ? t("unlimited") : d === "0" ? t("disabled") : formatUsdDecimal(locale, d);
  const fallbackMarker = (e: PlannedLimit) => {
    if (!e.fallback) return null;
    const stored = e.stored === undefined ? "" : formatGoFloat(e.stored);
    const text =
      e.fallback === "unreadable"
        ? th("markerUnreadable")
        : e.fallback === "too_large"
          ? th("markerClamped", { stored })
          : e.fallback === "too_many_decimals"
            ? th("markerRounded", { stored })
            : th("markerNegative", { stored });
    return (
      <span title={e.key} className="ml-1 rounded bg-red-100 px-1 text-[10px] font-medium text-red-800">
        {"⚠ "}
        {text}
      </span>
    );
  };
  const originBadge = (e: PlannedLimit) => (
    <span
      className={`ml-1 rounded px-1 text-[10px] tracking-wide uppercase ${e.origin === "source" ? "bg-blue-100 text-blue-800" : "bg-slate-100 text-slate-600"}`}
    >
      {e.origin === "source" ? t("originSource", { source: ts(source) }) : t("originSystem")}
    </span>
  );
  const cells = plan.cells;
  return (
    <div>
      <h3 className="text-sm font-semibold">{t("previewTitle", { source: ts(source) })}</h3>
      {staleNote ? <p className="mt-1 text-xs text-amber-900">{th("previewAfterSave")}</p> : null}
      <table className="mt-1 min-w-full text-sm" data-preview={source}>
        <tbody>
          {plan.platforms.map((p) => (
            <tr key={p} className="border-t border-slate-100" data-platform={p}>
              <th scope="row" className="px-2 py-1 text-left font-normal text-slate-700">
                {platformLabel(p, tp)}
              </th>
              {QUOTA_WINDOWS.map((w) => (
                <td
                  key={w}
                  className="px-2 py-1"
                  data-window={w}
                  data-origin={cells[p][w].origin}
                  data-fallback={cells[p][w].fallback ?? undefined}
                >
                  <span className="sr-only">{windowName[w]}: </span>
                  <span className={cells[p][w].limit === "0" ? "font-medium text-red-700" : ""}>
                    {showLimit(cells[p][w].limit)}
                  </span>
                  {originBadge(cells[p][w])}
                  {fallbackMarker(cells[p][w])}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
