import type { Metadata } from "next";
import { getTranslations, setRequestLocale } from "next-intl/server";
import { redirect } from "next/navigation";

import { RegisterForm } from "@/components/auth/register-form";
import { RegistrationClosed } from "@/components/auth/registration-closed";
import { LocaleSwitcher } from "@/components/shell/locale-switcher";
import { pageLocale } from "@/i18n/page-locale";
import { getSessionUser } from "@/lib/auth/session";
import { isRegistrationOpen } from "@/lib/settings/registration";

export async function generateMetadata({ params }: PageProps<"/[locale]/register">): Promise<Metadata> {
  const t = await getTranslations({ locale: await pageLocale(params), namespace: "Register" });
  return { title: t("title") };
}

export default async function RegisterPage({ params }: PageProps<"/[locale]/register">) {
  const locale = await pageLocale(params);
  setRequestLocale(locale);
  if (await getSessionUser()) redirect(`/${locale}/dashboard`);
  const [open, t] = await Promise.all([isRegistrationOpen(), getTranslations("Common")]);
  return (
    <main className="grid min-h-screen place-items-center px-4">
      <div className="w-full max-w-sm">
        <div className="mb-6 flex items-center justify-between">
          <span className="text-lg font-semibold">{t("appName")}</span>
          <LocaleSwitcher />
        </div>
        {open ? <RegisterForm locale={locale} /> : <RegistrationClosed />}
      </div>
    </main>
  );
}
