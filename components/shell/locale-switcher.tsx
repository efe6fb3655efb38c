"use client";

import { useLocale, useTranslations } from "next-intl";
import { usePathname, useRouter } from "next/navigation";
import { useTransition } from "react";

import { localePath, rememberLocale, withoutLocale } from "@/i18n/locale-path";
import { routing, type Locale } from "@/i18n/routing";

/** Switches zh ↔ en on the same page, query kept; the choice is remembered in NEXT_LOCALE as next-intl's router does. */
export function LocaleSwitcher() {
  const t = useTranslations("LocaleSwitcher");
  const locale = useLocale();
  const router = useRouter();
  const pathname = usePathname();
  const [pending, startTransition] = useTransition();
  return (
    <label className="inline-flex items-center gap-2 text-sm text-slate-600">
      <span className="sr-only">{t("label")}</span>
      <select
        aria-label={t("label")}
        className="rounded-md border border-slate-300 bg-white px-2 py-1 text-sm"
        value={locale}
        disabled={pending}
        onChange={(e) => {
          const next = e.target.value as Locale;
          // The list's state (filters, sort, page) lives in the query: keep it. Read at the change, not
          // through useSearchParams, which would opt every page with a header out of static rendering.
          const query = window.location.search;
          startTransition(() => {
            rememberLocale(next);
            router.replace(`${localePath(next, withoutLocale(pathname, locale))}${query}`);
          });
        }}
      >
        {routing.locales.map((l) => (
          <option key={l} value={l}>
            {t(l)}
          </option>
        ))}
      </select>
    </label>
  );
}
