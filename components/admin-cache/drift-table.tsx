"use client";

import { useFormatter, useTranslations } from "next-intl";

import { Link } from "@/i18n/navigation";
import { platformLabel as label } from "@/lib/billing/platforms";
import type { DriftRow } from "@/lib/quota/cache-health";

const WINDOWS = ["daily", "weekly", "monthly"] as const;
type Side = DriftRow["redis"];

export const platformLabel = (p: string) => label(p);
export const driftRowKey = (r: Pick<DriftRow, "userId" | "platform">) => `${r.userId}:${r.platform}`;

const sameLimit = (a: number | null, b: number | null) =>
  a === null ? b === null : b !== null && Math.abs(a - b) < 1e-9;
const sameUsage = (a: number, b: number) => Math.abs(a - b) <= 1e-7;

/** The keys the drift check reported: Redis next to PostgreSQL per window, differing values marked; a Repair button per row. */
export function DriftTable({
  rows,
  busy,
  onRepair,
}: {
  rows: DriftRow[];
  busy: string | null;
  onRepair: (row: DriftRow) => void;
}) {
  const t = useTranslations("CacheHealth");
  // relative: the sr-only markers (position: absolute) stay inside the scroll box instead of widening the page.
  return (
    <div className="relative mt-4 overflow-x-auto rounded-lg border border-slate-200" data-testid="drift-table-box">
      <table className="min-w-full text-sm">
        <caption className="px-3 py-2 text-left text-sm font-medium text-slate-700">{t("tableCaption")}</caption>
        <thead className="bg-slate-50 text-left text-slate-600">
          <tr>
            <th scope="col" className="px-3 py-2 font-medium whitespace-nowrap">
              {t("colUser")}
            </th>
            <th scope="col" className="px-3 py-2 font-medium whitespace-nowrap">
              {t("colPlatform")}
            </th>
            <th scope="col" className="px-3 py-2 font-medium whitespace-nowrap">
              {t("colKind")}
            </th>
            <th scope="col" className="px-3 py-2 font-medium whitespace-nowrap">
              {t("colRedis")}
            </th>
            <th scope="col" className="px-3 py-2 font-medium whitespace-nowrap">
              {t("colPostgres")}
            </th>
            <th scope="col" className="px-3 py-2 text-right font-medium whitespace-nowrap">
              {t("colActions")}
            </th>
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100">
          {rows.map((r) => {
            const key = driftRowKey(r);
            const name = platformLabel(r.platform);
            return (
              <tr key={key} data-testid={`drift-row-${r.userId}-${r.platform}`}>
                <th scope="row" className="px-3 py-2 text-left font-normal">
                  {r.email ? (
                    <Link
                      href={{ pathname: "/admin/users", query: { q: r.email } }}
                      aria-label={t("userLinkLabel", { id: r.userId })}
                      className="font-medium text-slate-900 underline decoration-slate-300 underline-offset-2 hover:decoration-slate-900"
                    >
                      {r.email}
                    </Link>
                  ) : null}
                  <span className="block font-mono text-xs text-slate-500">#{r.userId}</span>
                </th>
                <td className="px-3 py-2 whitespace-nowrap">
                  {name}
                  <span className="block font-mono text-xs text-slate-500">{r.platform}</span>
                </td>
                <td className="px-3 py-2 whitespace-nowrap" data-testid="drift-kind">
                  {r.kind === "usage" ? t("kindUsage") : t("kindLimits")}
                </td>
                <td className="px-3 py-2" data-testid="drift-redis">
                  <Values side={r.redis} other={r.postgres} />
                </td>
                <td className="px-3 py-2" data-testid="drift-postgres">
                  <Values side={r.postgres} other={r.redis} />
                </td>
                <td className="px-3 py-2 text-right">
                  <button
                    type="button"
                    onClick={() => onRepair(r)}
                    disabled={busy !== null}
                    aria-label={t("repairLabel", { id: r.userId, platform: name })}
                    className="rounded-md border border-slate-300 px-3 py-1.5 text-xs font-medium hover:bg-slate-100 disabled:opacity-60"
                  >
                    {busy === key ? t("repairing") : t("repair")}
                  </button>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function Values({ side, other }: { side: Side; other: Side }) {
  const t = useTranslations("CacheHealth");
  const format = useFormatter();
  const money = (n: number) => format.number(n, "usdLedger");
  const limit = (n: number | null) => (n === null ? t("unlimited") : n === 0 ? t("limitDisabled") : money(n));
  const label = { daily: t("windowDaily"), weekly: t("windowWeekly"), monthly: t("windowMonthly") };
  const mark = (text: string, differs: boolean) =>
    differs ? (
      <strong className="font-semibold text-red-700">
        {text}
        <span className="sr-only"> {t("differs")}</span>
      </strong>
    ) : (
      <span>{text}</span>
    );
  return (
    <ul className="space-y-0.5 whitespace-nowrap tabular-nums">
      {WINDOWS.map((w, i) => (
        <li key={w} data-window={w}>
          <span className="inline-block min-w-14 text-xs text-slate-500">{label[w]}</span>{" "}
          {mark(money(side[w]), !sameUsage(side[w], other[w]))} /{" "}
          {mark(limit(side.limits[i]), !sameLimit(side.limits[i], other.limits[i]))}
        </li>
      ))}
    </ul>
  );
}
