import { useTranslations } from "next-intl";

export default function Loading() {
  const t = useTranslations("Common");
  return (
    <div className="animate-pulse space-y-3" aria-busy="true" aria-label={t("loading")}>
      <div className="h-8 w-48 rounded bg-slate-200" />
      <div className="h-24 rounded-xl bg-slate-200" />
      <div className="h-96 rounded-xl bg-slate-200" />
    </div>
  );
}
