"use client";

import { useFormatter, useTranslations } from "next-intl";
import { memo, useOptimistic, useState, useTransition } from "react";

import { ConfirmDialog } from "@/components/ui/confirm-dialog";
import { InlineError } from "@/components/ui/inline-error";
import { knownKey } from "@/i18n/known-key";
import { useRouter as useLocaleRouter } from "@/i18n/navigation";
import { setUserRoleAction, setUserStatusAction } from "@/lib/actions/users";
import type { UserGroup } from "@/lib/gateway/context";

import { LiveQuotaSummary } from "./live-quota-cells";
import { SpendSparkline } from "./spend-sparkline";
import { useUserQuotaModal } from "./use-user-quota-modal";
import { UserGroups } from "./user-groups";

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
  /** 1 for an admin (a digit: half the bytes of `false`, 50 times) */
  admin: 0 | 1,
  /** 1 for a disabled account */
  disabled: 0 | 1,
  /** formatted balance */
  balance: string,
  /** the sign-up source's label */
  source: string,
  /** formatted sign-up date */
  created: string,
  /** cost per quota day, oldest first (the days of UserRowsProps.sparkDays); [] when nothing was spent */
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

/** A row's control that acts: `${userId}.role` or `${userId}.status`. */
type Control = `${number}.${"role" | "status"}`;

const NO_BUSY: readonly Control[] = [];

/** Stands for the e-mail address in a label formatted once per table (a private-use character). */
const EMAIL = "\uE000";

/**
 * The table body: the rows are rendered once on the server (SSR) and hydrated from the compact data.
 * The row buttons are plain buttons driven from here — one transition, one error map and ONE confirm
 * dialog for the table, not a role and a status component (each with its own Radix dialog) per row:
 * those were most of the page's render time (issue 14). Role: make admin / make user; the server
 * enforces the last-admin rule and ends the user's other sessions, and admins who give up their own
 * role leave for the dashboard. Status: enable acts at once; disable asks first (it ends the user's
 * sessions: one stray click — or a click in a framed page — must not lock someone out).
 * Cells carry no classes for what every row repeats: .users-table styles them by column and
 * its last column's buttons (app/globals.css) — keep the column order in step with user-table.tsx.
 */
export const UserRows = memo(function UserRows({
  rows,
  currentUserId,
  groups,
  sparkDays,
  sparkZone,
  labels,
}: UserRowsProps) {
  const t = useTranslations("AdminUsers");
  const te = useTranslations("Errors");
  const format = useFormatter();
  const localeRouter = useLocaleRouter();
  const { open, prefetch } = useUserQuotaModal();
  const [, startTransition] = useTransition();
  // A control stays disabled until its action's re-rendered rows are in (the transition's end).
  const [busy, addBusy] = useOptimistic<readonly Control[], Control>(NO_BUSY, (s, c) => [...s, c]);
  const [errors, setErrors] = useState<Partial<Record<Control, string>>>({});
  const [confirm, setConfirm] = useState<{ id: number; email: string; button: HTMLElement } | null>(null);

  const setError = (c: Control, message: string | null) =>
    setErrors((prev) => {
      if (!message && !prev[c]) return prev;
      const next = { ...prev };
      if (message) next[c] = message;
      else delete next[c];
      return next;
    });
  const errorText = (r: { code: string }) => te(knownKey(te, r.code, "INTERNAL_ERROR"));
  // Each label once per render, not 50 times: a button's name has one plain {email} argument, so
  // it is formatted once around a marker and the row's address goes in its place.
  const named = (label: string) => {
    const parts = label.split(EMAIL);
    return parts.length === 1 ? () => label : (email: string) => parts.join(email);
  };
  const text = {
    quotas: t("quotasButton"),
    quotasFor: named(t("quotasButtonFor", { email: EMAIL })),
    makeAdmin: t("makeAdmin"),
    makeAdminFor: named(t("makeAdminFor", { email: EMAIL })),
    makeUser: t("makeUser"),
    makeUserFor: named(t("makeUserFor", { email: EMAIL })),
    enable: t("enable"),
    enableFor: named(t("enableUser", { email: EMAIL })),
    disable: t("disable"),
    disableFor: named(t("disableUser", { email: EMAIL })),
    active: t("active"),
    disabled: t("disabled"),
    sparkNone: t("sparkNone"),
    noGroups: t("noGroups"),
    groupExclusive: t("groupExclusive"),
    groupExclusiveTitle: t("groupExclusiveTitle"),
  };

  const setRole = (id: number, role: "admin" | "user", self: boolean) =>
    startTransition(async () => {
      const c: Control = `${id}.role`;
      addBusy(c);
      setError(c, null);
      const r = await setUserRoleAction({ userId: id, role }).catch(() => null);
      if (!r) setError(c, te("INTERNAL_ERROR"));
      else if (!r.ok) setError(c, errorText(r));
      // Otherwise the action's revalidation re-renders the row; a self-demotion leaves the page.
      else if (self && role === "user") localeRouter.replace("/dashboard");
    });
  const setStatus = (id: number, status: "active" | "disabled") =>
    startTransition(async () => {
      const c: Control = `${id}.status`;
      addBusy(c);
      setError(c, null);
      // A call that never answers (the server unreachable) throws: an error beside the button, as
      // for the role, not the page's error boundary.
      const r = await setUserStatusAction({ userId: id, status }).catch(() => null);
      if (!r) setError(c, te("INTERNAL_ERROR"));
      // The action revalidates the users page: its answer carries the re-rendered row.
      else if (!r.ok) setError(c, errorText(r));
    });

  // The day names once per table; each row's sentence is its own amounts.
  const dayNames = sparkDays.map((d) =>
    format.dateTime(new Date(`${d}T12:00:00Z`), { month: "short", day: "numeric", timeZone: "UTC" }),
  );
  const noSpend = sparkDays.map(() => 0);
  const sparkLabel = (spend: readonly number[]) =>
    spend.every((v) => v === 0)
      ? text.sparkNone
      : t("sparkLabel", {
          zone: sparkZone,
          days: spend.map((v, i) => `${dayNames[i]} ${format.number(v, "usd")}`).join(", "),
        });
  return (
    <tbody className="divide-y divide-slate-100">
      {rows.map(([id, email, name, admin, disabled, balance, source, created, spend, userGroups]) => {
        const self = id === currentUserId;
        const role: Control = `${id}.role`;
        const status: Control = `${id}.status`;
        const series = spend.length ? spend : noSpend;
        return (
          <tr key={id} data-testid={`user-row-${id}`}>
            <td>
              <div>{email}</div>
              {name ? <div>{name}</div> : null}
            </td>
            <td>{source}</td>
            <td>{admin ? labels.admin : labels.user}</td>
            <td>
              <span className={disabled ? "pill-off" : undefined}>{disabled ? text.disabled : text.active}</span>
            </td>
            <td>{balance}</td>
            <td data-testid="quota-cell">
              <LiveQuotaSummary userId={id} />
            </td>
            <td>
              <SpendSparkline spend={series} label={sparkLabel(series)} />
            </td>
            {groups ? (
              <td data-testid="groups-cell">
                <UserGroups
                  groups={userGroups ?? []}
                  none={text.noGroups}
                  exclusive={text.groupExclusive}
                  exclusiveTitle={text.groupExclusiveTitle}
                />
              </td>
            ) : null}
            <td>{created}</td>
            <td>
              <div>
                <button
                  type="button"
                  onClick={() => open({ id, email })}
                  onPointerEnter={prefetch}
                  onFocus={prefetch}
                  aria-label={text.quotasFor(email)}
                >
                  {text.quotas}
                </button>
                <span>
                  <button
                    type="button"
                    disabled={busy.includes(role)}
                    aria-label={admin ? text.makeUserFor(email) : text.makeAdminFor(email)}
                    onClick={() => setRole(id, admin ? "user" : "admin", self)}
                  >
                    {admin ? text.makeUser : text.makeAdmin}
                  </button>
                  <InlineError message={errors[role] ?? null} />
                </span>
                {self ? null : (
                  <span>
                    <button
                      type="button"
                      disabled={busy.includes(status)}
                      aria-label={disabled ? text.enableFor(email) : text.disableFor(email)}
                      aria-haspopup={disabled ? undefined : "dialog"}
                      onClick={(e) =>
                        disabled ? setStatus(id, "active") : setConfirm({ id, email, button: e.currentTarget })
                      }
                    >
                      {disabled ? text.enable : text.disable}
                    </button>
                    <InlineError message={errors[status] ?? null} />
                  </span>
                )}
              </div>
            </td>
          </tr>
        );
      })}
      <ConfirmDialog
        open={confirm !== null}
        onOpenChange={(o) => !o && setConfirm(null)}
        returnFocusTo={confirm?.button}
        title={confirm ? t("disableConfirmTitle", { email: confirm.email }) : null}
        description={confirm ? t("disableConfirmBody", { email: confirm.email }) : null}
        confirmLabel={t("disableConfirmAction")}
        cancelLabel={t("cancel")}
        onConfirm={() => confirm && setStatus(confirm.id, "disabled")}
      />
    </tbody>
  );
});
