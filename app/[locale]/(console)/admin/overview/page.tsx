import type { Metadata } from "next";
import { getTranslations, setRequestLocale } from "next-intl/server";

import { OverviewSpend } from "@/components/admin-overview/overview-spend";
import { OverviewUsers } from "@/components/admin-overview/overview-users";
import { Card, PageHeader } from "@/components/ui/card";
import { pageLocale } from "@/i18n/page-locale";
import { requireAdmin } from "@/lib/auth/guards";
import { getAdminOverview } from "@/lib/quota/overview";

export async function generateMetadata({ params }: PageProps<"/[locale]/admin/overview">): Promise<Metadata> {
  const t = await getTranslations({ locale: await pageLocale(params), namespace: "AdminOverview" });
  return { title: t("title") };
}

/** Admin overview (issue 15): spend by platform per day, top spenders, users near a cap, blocked requests. */
export default async function AdminOverviewPage({ params }: PageProps<"/[locale]/admin/overview">) {
  const locale = await pageLocale(params);
  setRequestLocale(locale);
  await requireAdmin(); // before any read
  const [overview, t] = await Promise.all([getAdminOverview(), getTranslations("AdminOverview")]);
  return (
    <>
      <PageHeader title={t("title")} description={t("description")} />
      <OverviewSpend history={overview.history} locale={locale} />
      <OverviewUsers
        topUsers={overview.topUsers}
        nearCap={overview.nearCap}
        nearCapTotal={overview.nearCapTotal}
        nearCapTotalAtLeast={overview.nearCapTotalAtLeast}
      />
      <Card title={t("blockedTitle")} className="mt-6">
        <p className="text-sm text-slate-700" data-testid="blocked-unavailable">
          {t("blockedNone")}
        </p>
      </Card>
    </>
  );
}
