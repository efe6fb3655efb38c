import { getFormatter, getTranslations } from "next-intl/server";

import { isAuthSource } from "@/lib/auth-sources";
import { DEFAULT_PLATFORMS } from "@/lib/billing/platforms";
import type { UserListRow } from "@/lib/users/list";
import { toQuotaCells, type QuotaCellsSnapshot } from "@/lib/users/quota-cells";

import { LiveQuotaCells, LiveQuotaSummary } from "./live-quota-cells";
import type { QuotaSummaryLabels } from "./quota-summary";
import { QuotaModalTrigger, UserQuotaModalProvider } from "./use-user-quota-modal";
import { UserGroups } from "./user-groups";
import { UserRoleToggle } from "./user-role-toggle";
import { UserStatusToggle } from "./user-status-toggle";

/**
 * The users list: one server-rendered table whose quota column is live (live-quota-cells.tsx);
 * quotas open the per-user modal; status through its action. On a phone the table scrolls inside
 * its own box (`relative` keeps the visually hidden header inside it, so the page never widens).
 */
export async function UserTable({
  users,
  currentUserId,
  at,
  groups = false,
}: {
  users: UserListRow[];
  currentUserId: number;
  /** when the rows' usage was read */
  at: string;
  /** show the gateway's groups column (where the gateway's tables exist: listUsersWithQuotas' `groups`) */
  groups?: boolean;
}) {
  const [t, tn, ts, tm, tp, format] = await Promise.all([
    getTranslations("AdminUsers"),
    getTranslations("Nav"),
    getTranslations("Sources"),
    getTranslations("UserQuotaModal"),
    getTranslations("Platforms"),
    getFormatter(),
  ]);
  const labels: QuotaSummaryLabels = {
    notConfigured: t("notConfigured"),
    disabled: tm("disabled"),
    windows: { daily: tm("windowDaily"), weekly: tm("windowWeekly"), monthly: tm("windowMonthly") },
    platforms: Object.fromEntries(DEFAULT_PLATFORMS.map((p) => [p, tp(p)])), // others: raw name
  };
  if (users.length === 0)
    return (
      <p className="rounded-xl border border-dashed border-slate-300 p-8 text-center text-slate-600">
        {t("noResults")}
      </p>
    );
  const snapshot: QuotaCellsSnapshot = {
    at,
    cells: Object.fromEntries(users.map((u) => [String(u.id), toQuotaCells(u.quotas)])),
  };
  return (
    <UserQuotaModalProvider>
      <LiveQuotaCells initial={snapshot} labels={labels}>
        <div className="relative overflow-x-auto rounded-xl border border-slate-200 bg-white shadow-sm">
          <table className="min-w-full text-sm">
            <thead className="bg-slate-50 text-left text-slate-600">
              <tr>
                <th className="px-4 py-2 font-medium whitespace-nowrap">{t("columns.email")}</th>
                <th className="px-4 py-2 font-medium whitespace-nowrap">{t("columns.source")}</th>
                <th className="px-4 py-2 font-medium whitespace-nowrap">{t("columns.role")}</th>
                <th className="px-4 py-2 font-medium whitespace-nowrap">{t("columns.status")}</th>
                <th className="px-4 py-2 text-right font-medium whitespace-nowrap">{t("columns.balance")}</th>
                <th className="px-4 py-2 font-medium whitespace-nowrap">{t("columns.quotas")}</th>
                {groups ? <th className="px-4 py-2 font-medium whitespace-nowrap">{t("columns.groups")}</th> : null}
                <th className="px-4 py-2 font-medium whitespace-nowrap">{t("columns.createdAt")}</th>
                <th className="px-4 py-2">
                  <span className="sr-only">{t("columns.actions")}</span>
                </th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {users.map((u) => (
                <tr key={u.id} data-testid={`user-row-${u.id}`}>
                  <td className="px-4 py-2">
                    <div className="font-medium">{u.email}</div>
                    {u.username ? <div className="text-xs text-slate-500">{u.username}</div> : null}
                  </td>
                  <td className="px-4 py-2 whitespace-nowrap">
                    {isAuthSource(u.signupSource) ? ts(u.signupSource) : u.signupSource}
                  </td>
                  <td className="px-4 py-2 whitespace-nowrap">
                    {u.role === "admin" ? tn("roleAdmin") : tn("roleUser")}
                  </td>
                  <td className="px-4 py-2 whitespace-nowrap">
                    <span
                      className={`rounded-full px-2 py-0.5 text-xs font-medium ${u.status === "active" ? "bg-green-50 text-green-800" : "bg-slate-200 text-slate-700"}`}
                    >
                      {t(u.status)}
                    </span>
                  </td>
                  <td className="px-4 py-2 text-right tabular-nums">{format.number(Number(u.balance), "usd")}</td>
                  <td className="px-4 py-2" data-testid="quota-cell">
                    <LiveQuotaSummary userId={u.id} />
                  </td>
                  {groups ? (
                    <td className="px-4 py-2" data-testid="groups-cell">
                      <UserGroups
                        groups={u.groups ?? []}
                        none={t("noGroups")}
                        exclusive={t("groupExclusive")}
                        exclusiveTitle={t("groupExclusiveTitle")}
                      />
                    </td>
                  ) : null}
                  <td className="px-4 py-2 text-slate-600">{format.dateTime(new Date(u.createdAt), "date")}</td>
                  <td className="px-4 py-2 text-right">
                    <div className="flex items-start justify-end gap-2">
                      <QuotaModalTrigger user={{ id: u.id, email: u.email }} />
                      <UserRoleToggle userId={u.id} role={u.role} email={u.email} self={u.id === currentUserId} />
                      {u.id === currentUserId ? null : (
                        <UserStatusToggle userId={u.id} status={u.status} email={u.email} />
                      )}
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </LiveQuotaCells>
    </UserQuotaModalProvider>
  );
}
