import type { Metadata } from "next";
import { getFormatter, getTranslations, setRequestLocale } from "next-intl/server";
import { Card, PageHeader } from "@/components/ui/card";
import { requireAdmin } from "@/lib/auth/guards";
import { getUserStats } from "@/lib/users/users";

export async function generateMetadata({ params }: PageProps<"/[locale]/admin/users">): Promise<Metadata> {
  const t = await getTranslations({ locale: (await params).locale, namespace: "AdminUsers" });
  return { title: t("title") };
}

export default async function AdminUsersPage({ params }: PageProps<"/[locale]/admin/users">) {
  setRequestLocale((await params).locale);
  await requireAdmin();
  const [stats, t, format] = await Promise.all([getUserStats(), getTranslations("AdminUsers"), getFormatter()]);
  return (
    <>
      <PageHeader title={t("title")} description={t("description")} />
      <div className="grid grid-cols-2 gap-4 md:grid-cols-4">
        {(["total", "admins", "active", "disabled"] as const).map((k) => (
          <Card key={k}>
            <p className="text-sm text-slate-600">{t(k)}</p>
            <p className="mt-1 text-2xl font-semibold tabular-nums" data-testid={`stat-${k}`}>
              {format.number(stats[k])}
            </p>
          </Card>
        ))}
      </div>
    </>
  );
}
