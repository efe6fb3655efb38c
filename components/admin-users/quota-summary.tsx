import { getTranslations } from "next-intl/server";
import { isPlatform } from "@/lib/billing/platforms";
import type { AdminQuotaItem } from "@/lib/billing/quota-view";

/** Amounts as the gateway's cell shows them: rounded to 2 decimals, trailing zeros dropped. */
const amount = (n: number) => String(Math.round(n * 100) / 100);

/** The compact platform-quota cell of the users list (spec §8.3): `used/limit` per window. */
export async function QuotaSummary({ quotas }: { quotas: AdminQuotaItem[] }) {
  const [t, tm, tp] = await Promise.all([getTranslations("AdminUsers"), getTranslations("UserQuotaModal"), getTranslations("Platforms")]);
  const limited = quotas.filter((q) => q.daily_limit_usd !== null || q.weekly_limit_usd !== null || q.monthly_limit_usd !== null);
  if (limited.length === 0) return <span className="text-slate-500">{t("notConfigured")}</span>;
  const win = (label: string, used: number, limit: number | null) => (
    <span className="whitespace-nowrap">
      <span className="text-slate-500">{label}</span>{" "}
      {limit === 0 ? <span className="font-medium text-red-700">{tm("disabled")}</span> : <span className={limit !== null && used >= limit ? "font-medium text-red-700" : ""}>{`${amount(used)}/${limit === null ? "—" : amount(limit)}`}</span>}
    </span>
  );
  return (
    <ul className="space-y-0.5 text-xs tabular-nums">
      {limited.map((q) => (
        <li key={q.platform} data-quota-platform={q.platform} className="flex flex-wrap gap-x-2">
          <span className="w-20 font-medium">{isPlatform(q.platform) ? tp(q.platform) : q.platform}</span>
          {win(tm("windowDaily"), q.daily_usage_usd, q.daily_limit_usd)}
          {win(tm("windowWeekly"), q.weekly_usage_usd, q.weekly_limit_usd)}
          {win(tm("windowMonthly"), q.monthly_usage_usd, q.monthly_limit_usd)}
        </li>
      ))}
    </ul>
  );
}
