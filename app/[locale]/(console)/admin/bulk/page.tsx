import type { Metadata } from "next";
import { getTranslations, setRequestLocale } from "next-intl/server";

import { BulkPanel } from "@/components/admin-bulk/bulk-panel";
import { ClientMessages } from "@/components/shell/client-messages";
import { PageHeader } from "@/components/ui/card";
import { pageLocale } from "@/i18n/page-locale";
import { requireAdmin } from "@/lib/auth/guards";
import { appPlatforms } from "@/lib/db/platforms";

export async function generateMetadata({ params }: PageProps<"/[locale]/admin/bulk">): Promise<Metadata> {
  const t = await getTranslations({ locale: await pageLocale(params), namespace: "AdminBulk" });
  return { title: t("title") };
}

/** Bulk operations (issue 16): filter → preview → apply → progress → undo, all through guarded actions. */
export default async function AdminBulkPage({ params }: PageProps<"/[locale]/admin/bulk">) {
  setRequestLocale(await pageLocale(params));
  await requireAdmin();
  const [t, platforms] = await Promise.all([getTranslations("AdminBulk"), appPlatforms()]);
  return (
    <ClientMessages namespaces={["AdminBulk", "Platforms", "Sources"]}>
      <PageHeader title={t("title")} description={t("description")} />
      <BulkPanel platforms={platforms} />
    </ClientMessages>
  );
}
