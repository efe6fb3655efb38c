import type { Metadata } from "next";
import { getTranslations, setRequestLocale } from "next-intl/server";

import { DefaultsImportPanel, LimitsImportPanel } from "@/components/admin-transfer/import-panels";
import { ClientMessages } from "@/components/shell/client-messages";
import { Card, PageHeader } from "@/components/ui/card";
import { pageLocale } from "@/i18n/page-locale";
import { AUTH_SOURCES } from "@/lib/auth-sources";
import { requireAdmin } from "@/lib/auth/guards";

export async function generateMetadata({ params }: PageProps<"/[locale]/admin/transfer">): Promise<Metadata> {
  const t = await getTranslations({ locale: await pageLocale(params), namespace: "AdminTransfer" });
  return { title: t("title") };
}

const field = "rounded-md border border-slate-300 bg-white px-2 py-1.5 text-sm";
const linkClass = "inline-block rounded-md border border-slate-300 px-3 py-1.5 text-sm font-medium hover:bg-slate-100";

/** Import / export of users' limits and of the quota defaults (issue 16; lib/bulk/transfer.ts, lib/settings/transfer.ts). */
export default async function AdminTransferPage({ params }: PageProps<"/[locale]/admin/transfer">) {
  setRequestLocale(await pageLocale(params));
  await requireAdmin();
  const [t, tu, tn, ts] = await Promise.all([
    getTranslations("AdminTransfer"),
    getTranslations("AdminUsers"),
    getTranslations("Nav"),
    getTranslations("Sources"),
  ]);
  return (
    <ClientMessages namespaces={["AdminTransfer", "QuotaErrors", "Sources"]}>
      <PageHeader title={t("title")} description={t("description")} />
      <div className="space-y-6">
        <Card title={t("limitsTitle")}>
          <p className="mb-3 text-sm text-slate-600">{t("limitsHelp")}</p>
          {/* A plain GET form to the export route: the browser downloads the file, no script needed.
              The same filters as the users list (lib/users/list-sql.ts userFilterSql), none = all users. */}
          <form
            method="get"
            action="/api/v1/admin/quota-limits/export"
            className="mb-5 flex flex-wrap items-center gap-2"
            data-testid="export-form"
          >
            <input
              type="search"
              name="q"
              maxLength={100}
              placeholder={tu("searchPlaceholder")}
              aria-label={tu("searchPlaceholder")}
              className={field}
            />
            <select name="role" aria-label={tu("columns.role")} className={field} defaultValue="">
              <option value="">{tu("allRoles")}</option>
              <option value="admin">{tn("roleAdmin")}</option>
              <option value="user">{tn("roleUser")}</option>
            </select>
            <select name="status" aria-label={tu("columns.status")} className={field} defaultValue="">
              <option value="">{tu("allStatuses")}</option>
              <option value="active">{tu("active")}</option>
              <option value="disabled">{tu("disabled")}</option>
            </select>
            <select name="source" aria-label={tu("columns.source")} className={field} defaultValue="">
              <option value="">{tu("allSources")}</option>
              {AUTH_SOURCES.map((s) => (
                <option key={s} value={s}>
                  {ts(s)}
                </option>
              ))}
            </select>
            <label className="flex items-center gap-1.5 text-sm">
              <input type="checkbox" name="limit" value="1" /> {tu("hasLimit")}
            </label>
            <label className="flex items-center gap-1.5 text-sm">
              <input type="checkbox" name="over80" value="1" /> {tu("over80")}
            </label>
            <button type="submit" name="format" value="csv" className={linkClass} data-testid="export-csv">
              {t("exportCsv")}
            </button>
            <button type="submit" name="format" value="json" className={linkClass} data-testid="export-json">
              {t("exportJson")}
            </button>
            <p className="w-full text-xs text-slate-600">{t("exportScope")}</p>
          </form>
          <LimitsImportPanel />
        </Card>
        <Card title={t("defaultsTitle")}>
          <p className="mb-3 text-sm text-slate-600">{t("defaultsHelp")}</p>
          <div className="mb-4">
            <a className={linkClass} href="/api/v1/admin/quota-defaults/export" data-testid="export-defaults" download>
              {t("exportDefaults")}
            </a>
          </div>
          <DefaultsImportPanel />
        </Card>
      </div>
    </ClientMessages>
  );
}
