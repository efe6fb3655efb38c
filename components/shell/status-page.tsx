import { useTranslations } from "next-intl";

import { Link } from "@/i18n/navigation";

/** The 403 / 404 page body. */
export function StatusPage({ code, title, body }: { code: string; title: string; body: string }) {
  const t = useTranslations("Common");
  return (
    <main className="mx-auto max-w-lg px-6 py-24 text-center">
      <p className="text-sm font-semibold text-slate-500">{code}</p>
      <h1 className="mt-2 text-2xl font-semibold">{title}</h1>
      <p className="mt-3 text-slate-600">{body}</p>
      <Link
        href="/dashboard"
        className="mt-6 inline-block rounded-md bg-slate-900 px-4 py-2 text-sm font-medium text-white hover:bg-slate-700"
      >
        {t("backHome")}
      </Link>
    </main>
  );
}
