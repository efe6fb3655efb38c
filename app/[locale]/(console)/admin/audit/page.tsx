import type { Metadata } from "next";
import { getTimeZone, getTranslations, setRequestLocale } from "next-intl/server";

import { AuditEntry } from "@/components/admin-audit/audit-entry";
import { AuditFilters } from "@/components/admin-audit/audit-filters";
import { ClientMessages } from "@/components/shell/client-messages";
import { PageHeader } from "@/components/ui/card";
import { Link } from "@/i18n/navigation";
import { pageLocale } from "@/i18n/page-locale";
import { AuditListParamsSchema, listAuditActors, listAuditEntries } from "@/lib/audit/log";
import { requireAdmin } from "@/lib/auth/guards";

export async function generateMetadata({ params }: PageProps<"/[locale]/admin/audit">): Promise<Metadata> {
  const t = await getTranslations({ locale: await pageLocale(params), namespace: "AdminAudit" });
  return { title: t("title") };
}

export default async function AdminAuditPage({ params, searchParams }: PageProps<"/[locale]/admin/audit">) {
  setRequestLocale(await pageLocale(params));
  await requireAdmin();
  const raw = Object.fromEntries(Object.entries(await searchParams).map(([k, v]) => [k, Array.isArray(v) ? v[0] : v]));
  const query = AuditListParamsSchema.parse(raw);
  const timeZone = await getTimeZone();
  const [t, actors, list] = await Promise.all([
    getTranslations("AdminAudit"),
    listAuditActors(),
    listAuditEntries(query, timeZone),
  ]);
  const keep = Object.fromEntries(
    Object.entries(query)
      .filter(([k, v]) => k !== "page" && v !== "")
      .map(([k, v]) => [k, String(v)]),
  );
  const filtered = Object.keys(keep).length > 0;
  const linkClass = "rounded-md border border-slate-300 px-3 py-1 text-sm hover:bg-slate-100";
  return (
    <ClientMessages namespaces={["AdminAudit"]}>
      <PageHeader title={t("title")} description={t("description")} />
      <AuditFilters params={query} actors={actors} />
      <p className="mb-3 text-xs text-slate-600" data-testid="audit-time-zone">
        {t("timesIn", { zone: timeZone })}
      </p>
      {list.entries.length === 0 ? (
        <p className="rounded-xl border border-slate-200 bg-white p-6 text-center text-slate-600">
          {filtered || query.page > 1 ? t("noResults") : t("empty")}
        </p>
      ) : (
        <div className="space-y-3">
          {list.entries.map((e) => (
            <AuditEntry key={e.id} entry={e} />
          ))}
        </div>
      )}
      {query.page > 1 || list.hasMore ? (
        <nav aria-label={t("pagination")} className="mt-4 flex items-center justify-end gap-3">
          {query.page > 1 ? (
            <Link
              className={linkClass}
              href={{ pathname: "/admin/audit", query: { ...keep, page: String(query.page - 1) } }}
            >
              {t("newer")}
            </Link>
          ) : null}
          {list.hasMore ? (
            <Link
              className={linkClass}
              href={{ pathname: "/admin/audit", query: { ...keep, page: String(query.page + 1) } }}
            >
              {t("older")}
            </Link>
          ) : null}
        </nav>
      ) : null}
    </ClientMessages>
  );
}
