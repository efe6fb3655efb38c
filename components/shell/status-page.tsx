import { useLocale, useTranslations } from "next-intl";

/**
 * The 403 / 404 page body. Its link is a plain `<a>` (a full page load after an error page): a
 * next/link here is a client component of its own, whose chunk (next/link + next-intl's link, ~5 kB
 * gzipped) every page would load with the not-found and forbidden boundaries (issue 14).
 */
export function StatusPage({ code, title, body }: { code: string; title: string; body: string }) {
  const t = useTranslations("Common");
  const locale = useLocale();
  return (
    <main className="mx-auto max-w-lg px-6 py-24 text-center">
      <p className="text-sm font-semibold text-slate-500">{code}</p>
      <h1 className="mt-2 text-2xl font-semibold">{title}</h1>
      <p className="mt-3 text-slate-600">{body}</p>
      <a
        href={`/${locale}/dashboard`}
        className="mt-6 inline-block rounded-md bg-slate-900 px-4 py-2 text-sm font-medium text-white hover:bg-slate-700"
      >
        {t("backHome")}
      </a>
    </main>
  );
}
