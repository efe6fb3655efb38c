import { getFormatter, getTranslations } from "next-intl/server";

import { Link } from "@/i18n/navigation";
import { describeChanges, type Cell, type DiffSection, type MatrixScope } from "@/lib/audit/diff";
import type { AuditListEntry } from "@/lib/audit/log";
import { isUndoable } from "@/lib/audit/undo";
import { platformLabel } from "@/lib/billing/platforms";
import { QUOTA_WINDOWS } from "@/lib/billing/vocabulary";

import { AuditUndoButton } from "./audit-undo-button";

type T = Awaited<ReturnType<typeof getTranslations<"AdminAudit">>>;
type Format = Awaited<ReturnType<typeof getFormatter>>;

/** A recorded value as a person reads it: a limit (null = unlimited, or inherit in an override), a flag, a word. */
function valueText(v: unknown, t: T, format: Format, scope?: MatrixScope): string {
  if (v === null || v === undefined) return scope?.of === "source" ? t("inherit") : t("unlimited");
  if (v === 0) return t("disabled");
  if (typeof v === "number") return format.number(v, "usdExact");
  if (typeof v === "boolean") return v ? t("on") : t("off");
  if (v === "absent") return t("absent");
  if (v === "removed") return t("removedRow");
  if (v === "active") return t("statusActive");
  if (v === "disabled") return t("statusDisabled");
  if (v === "admin") return t("roleAdmin");
  if (v === "user") return t("roleUser");
  return typeof v === "string" ? v : JSON.stringify(v);
}

function Change({ before, after, text }: { before: unknown; after: unknown; text: (v: unknown) => string }) {
  return (
    <span className="whitespace-nowrap tabular-nums">
      <del className="text-slate-500 decoration-slate-400">{text(before)}</del>
      <span aria-hidden="true"> → </span>
      <ins className="font-medium text-slate-900 no-underline">{text(after)}</ins>
    </span>
  );
}

async function Section({ s, t, format }: { s: DiffSection; t: T; format: Format }) {
  const [tp, ts, tw] = await Promise.all([
    getTranslations("Platforms"),
    getTranslations("Sources"),
    getTranslations("AdminSettings"),
  ]);
  const platformName = (p: string) => platformLabel(p, tp);
  const windowName = { daily: tw("windowDaily"), weekly: tw("windowWeekly"), monthly: tw("windowMonthly") };
  const text = (v: unknown) => valueText(v, t, format);
  switch (s.kind) {
    case "matrix": {
      const title =
        s.scope.of === "user"
          ? t("scopeUser")
          : s.scope.of === "system"
            ? t("scopeSystem")
            : t("scopeSource", { source: ts(s.scope.source) });
      const scope = s.scope;
      const cellText = (v: unknown) => valueText(v, t, format, scope);
      return (
        // Focusable, so a keyboard can scroll the matrix on a phone (axe scrollable-region-focusable).
        <div className="overflow-x-auto" tabIndex={0}>
          <table className="w-full min-w-[28rem] text-sm" data-testid="audit-matrix">
            <caption className="mb-1 text-left text-xs font-semibold text-slate-600">{title}</caption>
            <thead>
              <tr className="text-left text-xs text-slate-500">
                <th scope="col" className="py-1 pr-3 font-medium">
                  {t("platform")}
                </th>
                {QUOTA_WINDOWS.map((w) => (
                  <th key={w} scope="col" className="py-1 pr-3 font-medium">
                    {windowName[w]}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {s.rows.map((r) => (
                <tr key={r.platform} className="border-t border-slate-100" data-platform={r.platform}>
                  <th scope="row" className="py-1 pr-3 text-left font-medium">
                    {platformName(r.platform)}
                  </th>
                  {r.removed ? (
                    <td colSpan={3} className="py-1 pr-3 text-slate-600">
                      {t("removedRow")}
                    </td>
                  ) : (
                    QUOTA_WINDOWS.map((w) => {
                      const c: Cell | undefined = r.cells[w];
                      return (
                        <td key={w} className="py-1 pr-3" data-window={w}>
                          {c ? <Change before={c.before} after={c.after} text={cellText} /> : null}
                        </td>
                      );
                    })
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      );
    }
    case "grant":
      return (
        <p className="text-sm">
          {t("grant", { source: ts(s.source) })}: <Change before={s.before} after={s.after} text={text} />
        </p>
      );
    case "usage":
      return (
        <p className="text-sm">
          {t("usage", { platform: platformName(s.platform), window: windowName[s.window] })}:{" "}
          <Change
            before={s.before}
            after={s.after}
            text={(v) => (typeof v === "number" ? format.number(v, "usdExact") : text(v))}
          />
        </p>
      );
    case "value": {
      const label = {
        status: t("status"),
        role: t("role"),
        registration: t("registration"),
        sessions_ended: t("sessionsEnded"),
      }[s.field];
      return s.field === "sessions_ended" ? (
        <p className="text-sm">
          {label}: <span className="tabular-nums">{String(s.after)}</span>
        </p>
      ) : (
        <p className="text-sm">
          {label}: <Change before={s.before} after={s.after} text={text} />
        </p>
      );
    }
    case "cache": {
      const outcome = s.after && typeof s.after === "object" && "outcome" in s.after ? String(s.after.outcome) : "";
      return (
        <p className="font-mono text-xs break-all text-slate-700">{t("cacheRepaired", { key: s.key, outcome })}</p>
      );
    }
    case "other":
      return (
        <p className="font-mono text-xs break-all text-slate-700">
          {s.key}: {JSON.stringify(s.before)} → {JSON.stringify(s.after)}
        </p>
      );
  }
}

/** One audit row: when, who, what kind, on what — and the before → after of each changed value. */
export async function AuditEntry({ entry }: { entry: AuditListEntry }) {
  const [t, format] = await Promise.all([getTranslations("AdminAudit"), getFormatter()]);
  const sections = describeChanges(entry.action, entry.changes);
  const target =
    entry.targetType === "user" && entry.targetId ? (
      entry.targetEmail ? (
        <Link href={{ pathname: "/admin/users", query: { q: entry.targetEmail } }} className="text-slate-900 underline">
          {t("targetUser", { email: entry.targetEmail, id: entry.targetId })}
        </Link>
      ) : (
        t("targetDeletedUser", { id: entry.targetId })
      )
    ) : entry.targetType === "settings" ? null : ( // the kind already names the settings it changed
      <span className="font-mono text-xs break-all">{entry.targetId}</span>
    );
  return (
    <article
      id={`audit-${entry.id}`}
      aria-labelledby={`audit-${entry.id}-title`}
      className="rounded-xl border border-slate-200 bg-white p-4 shadow-sm"
      data-testid="audit-entry"
      data-action={entry.action}
    >
      <header className="mb-2 flex flex-wrap items-baseline gap-x-3 gap-y-1 text-sm">
        <h2 id={`audit-${entry.id}-title`} className="font-semibold break-keep">
          {t(`kinds.${entry.kind ?? "unknown"}`)}
        </h2>
        {/* addresses have no break points: let them wrap anywhere rather than widen a phone's page */}
        {target ? <span className="min-w-0 [overflow-wrap:anywhere] text-slate-700">{target}</span> : null}
        <span className="min-w-0 [overflow-wrap:anywhere] text-slate-600">{entry.actorEmail}</span>
        <time dateTime={entry.at} className="ml-auto text-slate-600 tabular-nums">
          {format.dateTime(new Date(entry.at), "dateTimeSeconds")}
        </time>
      </header>
      {entry.undoOf !== null || entry.undoneBy !== null ? (
        <p className="mb-2 flex flex-wrap gap-x-3 text-xs text-slate-600">
          {entry.undoOf !== null ? (
            <a href={`#audit-${entry.undoOf}`} className="underline" data-testid="audit-undo-of">
              {t("undoOf", { id: entry.undoOf })}
            </a>
          ) : null}
          {entry.undoneBy !== null ? (
            <a href={`#audit-${entry.undoneBy}`} className="underline" data-testid="audit-undone-by">
              {t("undoneBy", { id: entry.undoneBy })}
            </a>
          ) : null}
        </p>
      ) : null}
      <div className="flex flex-wrap items-end justify-between gap-3">
        <div className="min-w-0 flex-1 space-y-2">
          {sections.map((s, i) => (
            <Section key={i} s={s} t={t} format={format} />
          ))}
        </div>
        {isUndoable(entry.action) && entry.changes.length > 0 ? (
          <AuditUndoButton entryId={entry.id} undone={entry.undoneBy !== null} />
        ) : null}
      </div>
    </article>
  );
}
