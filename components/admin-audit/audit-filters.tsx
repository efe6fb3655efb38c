import { getTranslations } from "next-intl/server";

import { FilterActions } from "@/components/ui/filter-actions";
import { AUDIT_KINDS, type AuditKind, type AuditListParams } from "@/lib/audit/log";

const control = "mt-1 max-w-full rounded-md border border-slate-300 bg-white px-2 py-1.5 text-sm text-slate-900";
// max-w-full: a select is as wide as its longest option (an actor's address) unless capped.
const label = "flex max-w-full min-w-0 flex-col text-xs text-slate-600";

/** The audit log's filters as a plain GET form: the state lives in the URL (works without JS). */
export async function AuditFilters({ params, actors }: { params: AuditListParams; actors: string[] }) {
  const t = await getTranslations("AdminAudit");
  return (
    <form
      method="get"
      role="search"
      className="mb-4 flex flex-wrap items-end gap-3 rounded-xl border border-slate-200 bg-white p-3 shadow-sm"
    >
      <label className={label}>
        {t("actor")}
        <select name="actor" defaultValue={params.actor} className={control}>
          <option value="">{t("allActors")}</option>
          {/* an actor typed into the URL that the list no longer offers stays selectable */}
          {[...new Set([...actors, ...(params.actor ? [params.actor] : [])])].map((a) => (
            <option key={a} value={a}>
              {a}
            </option>
          ))}
        </select>
      </label>
      <label className={`${label} min-w-48 flex-1`}>
        {t("user")}
        <input
          name="user"
          type="search"
          defaultValue={params.user}
          placeholder={t("userPlaceholder")}
          className={control}
        />
      </label>
      <label className={label}>
        {t("kind")}
        <select name="kind" defaultValue={params.kind} className={control}>
          <option value="">{t("allKinds")}</option>
          {(Object.keys(AUDIT_KINDS) as AuditKind[]).map((k) => (
            <option key={k} value={k}>
              {t(`kinds.${k}`)}
            </option>
          ))}
        </select>
      </label>
      <label className={label}>
        {t("from")}
        <input name="from" type="date" defaultValue={params.from} className={control} />
      </label>
      <label className={label}>
        {t("to")}
        <input name="to" type="date" defaultValue={params.to} className={control} />
      </label>
      <FilterActions apply={t("apply")} clear={t("clear")} />
    </form>
  );
}
