import { itemLimits } from "@/components/quota/format";
import type { AdminQuotaItem } from "@/lib/billing/quota-view";
import { hasAnyLimit } from "@/lib/billing/vocabulary";

/** Amounts as the gateway's cell shows them: rounded to 2 decimals, trailing zeros dropped. */
const amount = (n: number) => String(Math.round(n * 100) / 100);

export type QuotaSummaryLabels = {
  notConfigured: string;
  disabled: string;
  windows: { daily: string; weekly: string; monthly: string };
  platforms: Record<string, string>;
};

/**
 * The compact platform-quota cell of the users list (spec §8.3): `used/limit` per window, "—"
 * for unlimited. A plain component with labels resolved once per table: 50 async cells each
 * fetching translations made the page's RSC payload twice as large.
 */
export function QuotaSummary({ quotas, labels }: { quotas: AdminQuotaItem[]; labels: QuotaSummaryLabels }) {
  const limited = quotas.filter((q) => hasAnyLimit(itemLimits(q)));
  if (limited.length === 0) return <span className="text-slate-500">{labels.notConfigured}</span>;
  const win = (label: string, used: number, limit: number | null) => (
    <span className="whitespace-nowrap">
      <span className="text-slate-500">{label}</span>{" "}
      {limit === 0 ? (
        <b className="text-red-700">{labels.disabled}</b>
      ) : limit !== null && used >= limit ? (
        <b className="text-red-700">{`${amount(used)}/${amount(limit)}`}</b>
      ) : (
        `${amount(used)}/${limit === null ? "—" : amount(limit)}`
      )}
    </span>
  );
  return (
    <ul className="space-y-0.5 text-xs tabular-nums">
      {limited.map((q) => (
        <li key={q.platform} data-quota-platform={q.platform} className="flex flex-wrap gap-x-2">
          <span className="w-20 font-medium">{labels.platforms[q.platform] ?? q.platform}</span>
          {win(labels.windows.daily, q.daily_usage_usd, q.daily_limit_usd)}
          {win(labels.windows.weekly, q.weekly_usage_usd, q.weekly_limit_usd)}
          {win(labels.windows.monthly, q.monthly_usage_usd, q.monthly_limit_usd)}
        </li>
      ))}
    </ul>
  );
}
