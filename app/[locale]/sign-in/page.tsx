import type { Metadata } from "next";
import { getTranslations, setRequestLocale } from "next-intl/server";
import { redirect } from "next/navigation";

import { SignInForm } from "@/components/auth/sign-in-form";
import { LocaleSwitcher } from "@/components/shell/locale-switcher";
import { pageLocale } from "@/i18n/page-locale";
import { getSessionUser } from "@/lib/auth/session";
import { isRegistrationOpen } from "@/lib/settings/registration";

export async function generateMetadata({ params }: PageProps<"/[locale]/sign-in">): Promise<Metadata> {
  const t = await getTranslations({ locale: await pageLocale(params), namespace: "SignIn" });
  return { title: t("title") };
}

export default async function SignInPage({ params, searchParams }: PageProps<"/[locale]/sign-in">) {
  const locale = await pageLocale(params);
  setRequestLocale(locale);
  if (await getSessionUser()) redirect(`/${locale}/dashboard`);
  const next = (await searchParams).next;
  // The register link is a courtesy: an unreadable setting hides it rather than break sign-in.
  const [registrationOpen, t] = await Promise.all([isRegistrationOpen().catch(() => false), getTranslations("Common")]);
  return (
    <main className="grid min-h-screen place-items-center px-4">
      <div className="w-full max-w-sm">
        <div className="mb-6 flex items-center justify-between">
          <span className="text-lg font-semibold">{t("appName")}</span>
          <LocaleSwitcher />
        </div>
        <SignInForm
          locale={locale}
          next={typeof next === "string" ? next : undefined}
          registrationOpen={registrationOpen}
        />
      </div>
    </main>
  );
}
