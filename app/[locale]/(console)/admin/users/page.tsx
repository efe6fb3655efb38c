import type { Metadata } from "next";
import { getFormatter, getTranslations, setRequestLocale } from "next-intl/server";
import { UserTable } from "@/components/admin-users/user-table";
import { Card, PageHeader } from "@/components/ui/card";
import { Pagination } from "@/components/ui/pagination";
import { requireAdmin } from "@/lib/auth/guards";
import { getUserStats, listUsers } from "@/lib/users/users";

const PAGE_SIZE = 50;

export async function generateMetadata({ params }: PageProps<"/[locale]/admin/users">): Promise<Metadata> {
  const t = await getTranslations({ locale: (await params).locale, namespace: "AdminUsers" });
  return { title: t("title") };
}

export default async function AdminUsersPage({ params, searchParams }: PageProps<"/[locale]/admin/users">) {
  setRequestLocale((await params).locale);
  const admin = await requireAdmin();
  const page = Math.max(1, Math.min(1_000_000, Number.parseInt(String((await searchParams).page ?? "1"), 10) || 1));
  const [stats, list, t, format] = await Promise.all([
    getUserStats(),
    listUsers(page, PAGE_SIZE),
    getTranslations("AdminUsers"),
    getFormatter(),
  ]);
  return (
    <>
      <PageHeader title={t("title")} description={t("description")} />
      <div className="mb-6 grid grid-cols-2 gap-4 md:grid-cols-4">
        {(["total", "admins", "active", "disabled"] as const).map((k) => (
          <Card key={k}>
            <p className="text-sm text-slate-600">{t(k)}</p>
            <p className="mt-1 text-2xl font-semibold tabular-nums" data-testid={`stat-${k}`}>
              {format.number(stats[k])}
            </p>
          </Card>
        ))}
      </div>
      <UserTable users={list.items} currentUserId={admin.id} />
      <Pagination page={page} pageCount={Math.ceil(list.total / PAGE_SIZE)} pathname="/admin/users" />
    </>
  );
}
