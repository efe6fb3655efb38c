import { getTranslations } from "next-intl/server";

import { Link } from "@/i18n/navigation";

/** Previous / next links that keep list state in the URL (`?page=`). */
export async function Pagination({
  page,
  pageCount,
  pathname,
  query = {},
  pageCountAtLeast = false,
}: {
  page: number;
  pageCount: number;
  /** the list's total is a lower bound (lib/users/list.ts at scale): "of N+" pages */
  pageCountAtLeast?: boolean;
  pathname: "/admin/users";
  query?: Record<string, string>;
}) {
  const t = await getTranslations("Pagination");
  if (pageCount <= 1) return null;
  const linkClass = "rounded-md border border-slate-300 px-3 py-1 text-sm hover:bg-slate-100";
  return (
    <nav aria-label={t("label")} className="mt-4 flex items-center justify-end gap-3 text-sm">
      {page > 1 ? (
        <Link className={linkClass} href={{ pathname, query: { ...query, page: String(page - 1) } }}>
          {t("previous")}
        </Link>
      ) : null}
      <span className="text-slate-600">{t(pageCountAtLeast ? "statusAtLeast" : "status", { page, pageCount })}</span>
      {page < pageCount ? (
        <Link className={linkClass} href={{ pathname, query: { ...query, page: String(page + 1) } }}>
          {t("next")}
        </Link>
      ) : null}
    </nav>
  );
}
