"use client";

import { useTranslations } from "next-intl";

import { FilterActions } from "@/components/ui/filter-actions";
import { AUTH_SOURCES } from "@/lib/auth-sources";
import type { UserListParams } from "@/lib/users/list";

const select = "rounded-md border border-slate-300 bg-white px-2 py-1.5 text-sm";

/**
 * Search, filters and sort as a plain GET form: the list state lives in the URL (works without JS).
 * A client component for its size, not for state: the page's payload carries its three props
 * instead of the rendered tree of every select and option (~3.5 KiB, issue 14); it renders to the
 * same HTML on the server.
 */
export function UserFilters({
  params,
  total,
  totalAtLeast = false,
}: {
  params: UserListParams;
  total: number;
  /** total is "more than this many" (the list at scale) */
  totalAtLeast?: boolean;
}) {
  const t = useTranslations("AdminUsers");
  const tn = useTranslations("Nav");
  const ts = useTranslations("Sources");
  return (
    <form
      method="get"
      role="search"
      className="mb-4 flex flex-wrap items-end gap-2 rounded-xl border border-slate-200 bg-white p-3 shadow-sm"
    >
      <label className="flex min-w-56 flex-1 flex-col text-xs text-slate-600">
        {t("search")}
        <input
          name="q"
          type="search"
          defaultValue={params.q}
          placeholder={t("searchPlaceholder")}
          className="mt-1 rounded-md border border-slate-300 px-3 py-1.5 text-sm text-slate-900"
        />
      </label>
      <select name="role" defaultValue={params.role} aria-label={t("columns.role")} className={select}>
        <option value="">{t("allRoles")}</option>
        <option value="admin">{tn("roleAdmin")}</option>
        <option value="user">{tn("roleUser")}</option>
      </select>
      <select name="status" defaultValue={params.status} aria-label={t("columns.status")} className={select}>
        <option value="">{t("allStatuses")}</option>
        <option value="active">{t("active")}</option>
        <option value="disabled">{t("disabled")}</option>
      </select>
      <select name="source" defaultValue={params.source} aria-label={t("columns.source")} className={select}>
        <option value="">{t("allSources")}</option>
        {AUTH_SOURCES.map((s) => (
          <option key={s} value={s}>
            {ts(s)}
          </option>
        ))}
      </select>
      <label className="flex items-center gap-1.5 text-sm">
        <input type="checkbox" name="limit" value="1" defaultChecked={params.limit === "1"} /> {t("hasLimit")}
      </label>
      <label className="flex items-center gap-1.5 text-sm">
        <input type="checkbox" name="over80" value="1" defaultChecked={params.over80 === "1"} /> {t("over80")}
      </label>
      <select name="sort" defaultValue={params.sort} aria-label={t("sortBy")} className={select}>
        <option value="created">{t("sortCreated")}</option>
        <option value="email">{t("sortEmail")}</option>
        <option value="balance">{t("sortBalance")}</option>
        <option value="spend_day">{t("sortSpendDay")}</option>
        <option value="spend_week">{t("sortSpendWeek")}</option>
        <option value="spend_month">{t("sortSpendMonth")}</option>
        <option value="cap">{t("sortCap")}</option>
      </select>
      <select name="dir" defaultValue={params.dir} aria-label={t("sortDir")} className={select}>
        <option value="desc">{t("dirDesc")}</option>
        <option value="asc">{t("dirAsc")}</option>
      </select>
      <FilterActions apply={t("apply")} clear={t("clear")} />
      <span className="ml-auto text-sm text-slate-600" data-testid="result-count">
        {t(totalAtLeast ? "resultsAtLeast" : "results", { total })}
      </span>
    </form>
  );
}
