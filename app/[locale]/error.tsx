"use client";

import { useTranslations } from "next-intl";

export default function ErrorPage({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  const t = useTranslations("ErrorPage");
  const te = useTranslations("Errors");
  return (
    <main className="mx-auto max-w-lg px-6 py-24 text-center" role="alert">
      <p className="text-sm font-semibold text-red-700">500</p>
      <h1 className="mt-2 text-2xl font-semibold">{t("title")}</h1>
      <p className="mt-3 text-slate-600">{t("body")}</p>
      {error.digest ? (
        <p className="mt-2 font-mono text-xs text-slate-500">{te("errorId", { id: error.digest })}</p>
      ) : null}
      <button
        className="mt-6 rounded-md bg-slate-900 px-4 py-2 text-sm font-medium text-white hover:bg-slate-700"
        onClick={reset}
      >
        {t("retry")}
      </button>
    </main>
  );
}
