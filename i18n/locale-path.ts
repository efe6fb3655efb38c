import type { Locale } from "./routing";

/**
 * The console's paths under the "always" locale prefix (i18n/routing.ts; no localized pathnames),
 * for the shell's client components on next/link and next/navigation directly: next-intl's
 * client navigation (createNavigation) would add ~3 kB gzipped to every page's first load to do
 * the same (issue 14).
 */
export const localePath = (locale: string, path: string) => `/${locale}${path === "/" ? "" : path}`;

/** A pathname without its locale prefix ("/en/admin/users" → "/admin/users", "/en" → "/"). */
export function withoutLocale(pathname: string, locale: string): string {
  if (pathname === `/${locale}`) return "/";
  return pathname.startsWith(`/${locale}/`) ? pathname.slice(locale.length + 1) : pathname;
}

/**
 * What next-intl's router does when it switches the locale: remember the choice in NEXT_LOCALE
 * (its default cookie: session, SameSite=Lax, path /), which the proxy's negotiation reads.
 */
export function rememberLocale(next: Locale): void {
  document.cookie = `NEXT_LOCALE=${next};sameSite=lax;path=/;`;
}
