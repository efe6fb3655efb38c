import type { Metadata } from "next";
import { getTranslations, setRequestLocale } from "next-intl/server";
import { redirect } from "next/navigation";

import { AuthShell } from "@/components/auth/auth-shell";
import { RegisterForm } from "@/components/auth/register-form";
import { RegistrationClosed } from "@/components/auth/registration-closed";
import { RegistrationDelegated } from "@/components/auth/registration-delegated";
import { ClientMessages } from "@/components/shell/client-messages";
import { pageLocale } from "@/i18n/page-locale";
import { getSessionUser } from "@/lib/auth/session";
import { env } from "@/lib/config/env";
import { isRegistrationOpen } from "@/lib/settings/registration";

export async function generateMetadata({ params }: PageProps<"/[locale]/register">): Promise<Metadata> {
  const t = await getTranslations({ locale: await pageLocale(params), namespace: "Register" });
  return { title: t("title") };
}

export default async function RegisterPage({ params }: PageProps<"/[locale]/register">) {
  const locale = await pageLocale(params);
  setRequestLocale(locale);
  if (await getSessionUser()) redirect(`/${locale}/dashboard`);
  const { GATEWAY_DATABASE, GATEWAY_URL } = env();
  if (GATEWAY_DATABASE === "attached") {
    return (
      <AuthShell>
        <RegistrationDelegated gatewayUrl={GATEWAY_URL} />
      </AuthShell>
    );
  }
  const open = await isRegistrationOpen();
  return (
    <AuthShell>
      {open ? (
        <ClientMessages namespaces={["Register", "PasswordPolicy"]}>
          <RegisterForm locale={locale} />
        </ClientMessages>
      ) : (
        <RegistrationClosed />
      )}
    </AuthShell>
  );
}
