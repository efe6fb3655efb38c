"use client";

import { useFormatter, useTranslations } from "next-intl";

import type { Platform } from "@/lib/billing/platforms";
import type { AdminQuotaItem } from "@/lib/billing/quota-view";
import type { QuotaWindow } from "@/lib/billing/vocabulary";

/** Under a modal cell: the window's usage, when it resets, and its reset button (rows only). */
export function QuotaUsageLine({
  platform: p,
  window: w,
  item,
  resetLabel,
  disabled,
  onReset,
}: {
  platform: Platform;
  window: QuotaWindow;
  item: AdminQuotaItem | undefined;
  resetLabel: string;
  disabled: boolean;
  onReset: () => void;
}) {
  const t = useTranslations("UserQuotaModal");
  const format = useFormatter();
  const used = item ? item[`${w}_usage_usd`] : 0;
  const resets = item ? item[`${w}_window_resets_at`] : null;
  return (
    <div className="mt-1 flex items-center justify-between gap-1 text-xs text-slate-500" data-usage={`${p}.${w}`}>
      <span>
        {t("used", {
          amount: format.number(used, "usd"),
        })}
        {resets ? (
          <>
            {" "}
            ·{" "}
            {t("resetsAt", {
              time: format.dateTime(new Date(resets), "monthDayTime"),
            })}
          </>
        ) : null}
      </span>
      {item ? (
        <button
          type="button"
          title={resetLabel}
          aria-label={resetLabel}
          disabled={disabled}
          onClick={onReset}
          className="rounded px-1 text-base leading-none hover:bg-slate-100 disabled:opacity-40"
        >
          ↻
        </button>
      ) : null}
    </div>
  );
}
