import type { Metadata } from "next";
import { getTranslations, setRequestLocale } from "next-intl/server";

import { DefaultsImportPanel, LimitsImportPanel } from "@/components/admin-transfer/import-panels";
import { ClientMessages } from "@/components/shell/client-messages";
import { Card, PageHeader } from "@/components/ui/card";
import { pageLocale } from "@/i18n/page-locale";
import { requireAdmin } from "@/lib/auth/guards";

export async function generateMetadata({ params }: PageProps<"/[locale]/admin/transfer">): Promise<Metadata> {
  const t = await getTranslations({ locale: await pageLocale(params), namespace: "AdminTransfer" });
  return { title: t("title") };
}

const linkClass = "inline-block rounded-md border border-slate-300 px-3 py-1.5 text-sm font-medium hover:bg-slate-100";

/** Import / export of users' limits and of the quota defaults (issue 16; lib/bulk/transfer.ts, lib/settings/transfer.ts). */
export default async function AdminTransferPage({ params }: PageProps<"/[locale]/admin/transfer">) {
  setRequestLocale(await pageLocale(params));
  await requireAdmin();
  const t = await getTranslations("AdminTransfer");
  return (
    <ClientMessages namespaces={["AdminTransfer", "Sources"]}>
      <PageHeader title={t("title")} description={t("description")} />
      <div className="space-y-6">
        <Card title={t("limitsTitle")}>
          <p className="mb-3 text-sm text-slate-600">{t("limitsHelp")}</p>
          <div className="mb-2 flex flex-wrap gap-2">
            {/* Route handlers, not pages: plain anchors (a download, no client navigation). */}
            <a
              className={linkClass}
              href="/api/v1/admin/quota-limits/export?format=csv"
              data-testid="export-csv"
              download
            >
              {t("exportCsv")}
            </a>
            <a
              className={linkClass}
              href="/api/v1/admin/quota-limits/export?format=json"
              data-testid="export-json"
              download
            >
              {t("exportJson")}
            </a>
          </div>
          <p className="mb-4 text-xs text-slate-600">{t("exportScope")}</p>
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
