"use client";

import { useFormatter, useTranslations } from "next-intl";
import { memo } from "react";

import type { UserGroup } from "@/lib/gateway/context";

import { LiveQuotaSummary } from "./live-quota-cells";
import { SpendSparkline } from "./spend-sparkline";
import { QuotaModalTrigger } from "./use-user-quota-modal";
import { UserGroups } from "./user-groups";
import { UserRoleToggle } from "./user-role-toggle";
import { UserStatusToggle } from "./user-status-toggle";

/**
 * One row of the users list as the page hands it to the browser: only what the row shows, already
 * formatted on the server (balance, date, source label), as a tuple (no key names repeated 50 times),
 * so the inline RSC payload is ~150 bytes per user instead of the rendered tree of every cell
 * (issue 14: ~6 KiB per row before).
 */
export type UserRowData = [
  id: number,
  email: string,
  /** username, "" for none */
  name: string,
  admin: boolean,
  disabled: boolean,
  /** formatted balance */
  balance: string,
  /** the sign-up source's label */
  source: string,
  /** formatted sign-up date */
  created: string,
  /** cost per quota day, oldest first (the days of UserRowsProps.sparkDays) */
  spend: number[],
  /** the gateway's groups; null where the list has no groups column */
  groups: UserGroup[] | null,
];

export type UserRowsProps = {
  rows: UserRowData[];
  currentUserId: number;
  groups: boolean;
  /** the sparkline's days, `YYYY-MM-DD` in the quota time zone, oldest first */
  sparkDays: string[];
  /** the quota time zone, named in the sparkline's text */
  sparkZone: string;
  labels: { admin: string; user: string };
};

const statusClass = { active: "pill bg-green-50 text-green-800", disabled: "pill bg-slate-200 text-slate-700" };

/** The table body: the rows are rendered once on the server (SSR) and hydrated from the compact data. */
export const UserRows = memo(function UserRows({
  rows,
  currentUserId,
  groups,
  sparkDays,
  sparkZone,
  labels,
}: UserRowsProps) {
  const t = useTranslations("AdminUsers");
  const format = useFormatter();
  // The day names once per table; each row's sentence is its own amounts.
  const dayNames = sparkDays.map((d) =>
    format.dateTime(new Date(`${d}T12:00:00Z`), { month: "short", day: "numeric", timeZone: "UTC" }),
  );
  const sparkLabel = (spend: readonly number[]) =>
    spend.every((v) => v === 0)
      ? t("sparkNone")
      : t("sparkLabel", {
          zone: sparkZone,
          days: spend.map((v, i) => `${dayNames[i]} ${format.number(v, "usd")}`).join(", "),
        });
  return (
    <tbody className="divide-y divide-slate-100">
      {rows.map(([id, email, name, admin, disabled, balance, source, created, spend, userGroups]) => {
        const self = id === currentUserId;
        const status = disabled ? "disabled" : "active";
        return (
          <tr key={id} data-testid={`user-row-${id}`}>
            <td>
              <div className="font-medium">{email}</div>
              {name ? <div className="text-xs text-slate-500">{name}</div> : null}
            </td>
            <td className="whitespace-nowrap">{source}</td>
            <td className="whitespace-nowrap">{admin ? labels.admin : labels.user}</td>
            <td className="whitespace-nowrap">
              <span className={statusClass[status]}>{t(status)}</span>
            </td>
            <td className="text-right tabular-nums">{balance}</td>
            <td data-testid="quota-cell">
              <LiveQuotaSummary userId={id} />
            </td>
            <td data-testid="spend-spark">
              <SpendSparkline spend={spend} label={sparkLabel(spend)} />
            </td>
            {groups ? (
              <td data-testid="groups-cell">
                <UserGroups
                  groups={userGroups ?? []}
                  none={t("noGroups")}
                  exclusive={t("groupExclusive")}
                  exclusiveTitle={t("groupExclusiveTitle")}
                />
              </td>
            ) : null}
            <td className="text-slate-600">{created}</td>
            <td>
              <div className="flex items-start justify-end gap-2">
                <QuotaModalTrigger user={{ id: id, email: email }} />
                <UserRoleToggle userId={id} role={admin ? "admin" : "user"} email={email} self={self} />
                {self ? null : <UserStatusToggle userId={id} status={status} email={email} />}
              </div>
            </td>
          </tr>
        );
      })}
    </tbody>
  );
});
