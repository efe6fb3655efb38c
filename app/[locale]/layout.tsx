import type { Metadata } from "next";
import { hasLocale } from "next-intl";
import { getTranslations, setRequestLocale } from "next-intl/server";
import { headers } from "next/headers";
import { notFound } from "next/navigation";

import { ClientMessages } from "@/components/shell/client-messages";
import { CspNonce } from "@/components/shell/csp-nonce";
import { TimeZoneCookie } from "@/components/shell/time-zone-cookie";
import { pageLocale } from "@/i18n/page-locale";
import { routing } from "@/i18n/routing";

export async function generateMetadata({ params }: LayoutProps<"/[locale]">): Promise<Metadata> {
  const t = await getTranslations({ locale: await pageLocale(params), namespace: "Common" });
  return { title: { default: t("appName"), template: `%s · ${t("appName")}` }, description: t("tagline") };
}

export default async function LocaleLayout({ children, params }: LayoutProps<"/[locale]">) {
  const { locale } = await params;
  if (!hasLocale(routing.locales, locale)) notFound();
  setRequestLocale(locale);
  // Set by proxy.ts on every request; Next.js itself reads it from the CSP header.
  const nonce = (await headers()).get("x-nonce");
  return (
    <html lang={locale === "zh" ? "zh-CN" : "en"}>
      <body className="min-h-screen">
        <CspNonce nonce={nonce} />
        {/* The shell's namespaces only; pages and the admin layout add their own. */}
        <ClientMessages namespaces={[]}>
          {children}
          <TimeZoneCookie />
        </ClientMessages>
      </body>
    </html>
  );
}
