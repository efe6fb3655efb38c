import { dehydrate, HydrationBoundary, QueryClient } from "@tanstack/react-query";
import type { Metadata } from "next";
import { getTranslations, setRequestLocale } from "next-intl/server";

import { CacheStatusPanel } from "@/components/admin-cache/cache-status-panel";
import { DriftCheck } from "@/components/admin-cache/drift-check";
import { ClientMessages } from "@/components/shell/client-messages";
import { PageHeader } from "@/components/ui/card";
import { pageLocale } from "@/i18n/page-locale";
import { requireAdmin } from "@/lib/auth/guards";
import { DRIFT_MAX_KEYS, getCacheStatus } from "@/lib/quota/cache-health";
import { quotaKeys } from "@/lib/quota/query";

export async function generateMetadata({ params }: PageProps<"/[locale]/admin/cache">): Promise<Metadata> {
  const t = await getTranslations({ locale: await pageLocale(params), namespace: "CacheHealth" });
  return { title: t("title") };
}

export default async function AdminCachePage({ params }: PageProps<"/[locale]/admin/cache">) {
  setRequestLocale(await pageLocale(params));
  await requireAdmin();
  // Prefetched and hydrated into React Query: the panel renders at once, then refreshes every 10 s.
  const queryClient = new QueryClient();
  const [, t] = await Promise.all([
    queryClient.prefetchQuery({ queryKey: quotaKeys.cacheStatus, queryFn: getCacheStatus }),
    getTranslations("CacheHealth"),
  ]);
  return (
    <ClientMessages namespaces={["CacheHealth"]}>
      <PageHeader title={t("title")} description={t("description")} />
      <HydrationBoundary state={dehydrate(queryClient)}>
        <CacheStatusPanel />
      </HydrationBoundary>
      <DriftCheck maxKeys={DRIFT_MAX_KEYS} />
    </ClientMessages>
  );
}
