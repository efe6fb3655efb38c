import type { Metadata } from "next";
import { getFormatter, getTranslations, setRequestLocale } from "next-intl/server";

import { UserFilters } from "@/components/admin-users/user-filters";
import { UserTable } from "@/components/admin-users/user-table";
import { ClientMessages } from "@/components/shell/client-messages";
import { Card, PageHeader } from "@/components/ui/card";
import { Pagination } from "@/components/ui/pagination";
import { pageLocale } from "@/i18n/page-locale";
import { requireAdmin } from "@/lib/auth/guards";
import { historyRetentionFromEnv } from "@/lib/billing/history";
import { pgPool } from "@/lib/db/client";
import { appBilling } from "@/lib/quota/runtime";
import { listUsersWithQuotas, UserListParamsSchema } from "@/lib/users/list";
import { readSpendSparklines } from "@/lib/users/sparkline";
import { getUserStats } from "@/lib/users/users";

export async function generateMetadata({ params }: PageProps<"/[locale]/admin/users">): Promise<Metadata> {
  const t = await getTranslations({ locale: await pageLocale(params), namespace: "AdminUsers" });
  return { title: t("title") };
}

export default async function AdminUsersPage({ params, searchParams }: PageProps<"/[locale]/admin/users">) {
  setRequestLocale(await pageLocale(params));
  const admin = await requireAdmin();
  const raw = Object.fromEntries(Object.entries(await searchParams).map(([k, v]) => [k, Array.isArray(v) ? v[0] : v]));
  const query = UserListParamsSchema.parse(raw);
  const [stats, list, t, format] = await Promise.all([
    getUserStats(),
    listUsersWithQuotas(query),
    getTranslations("AdminUsers"),
    getFormatter(),
  ]);
  // One more statement for the whole page: every listed user's 7-day spend (not one per row).
  const { clock } = appBilling();
  const spark = await readSpendSparklines(
    pgPool(),
    clock,
    historyRetentionFromEnv(),
    list.rows.map((u) => u.id),
    Date.parse(list.at),
  );
  const keep = Object.fromEntries(
    Object.entries(query)
      .filter(([k, v]) => k !== "page" && v !== "" && v !== undefined)
      .map(([k, v]) => [k, String(v)]),
  );
  return (
    // The quota modal loads its own messages when it opens (use-user-quota-modal.tsx).
    <ClientMessages namespaces={["AdminUsers", "Nav", "Sources"]}>
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
      <UserFilters params={query} total={list.total} totalAtLeast={list.totalAtLeast} />
      <UserTable
        users={list.rows}
        currentUserId={admin.id}
        groups={list.groups}
        at={list.at}
        spark={{ ...spark, zone: clock.timeZone }}
      />
      <Pagination
        page={query.page}
        pageCount={
          list.totalAtLeast
            ? Math.max(Math.ceil(list.total / list.pageSize), query.page + (list.rows.length === list.pageSize ? 1 : 0))
            : Math.ceil(list.total / list.pageSize)
        }
        pageCountAtLeast={list.totalAtLeast}
        pathname="/admin/users"
        query={keep}
      />
    </ClientMessages>
  );
}
