import type { Metadata } from "next";
import { getTranslations, setRequestLocale } from "next-intl/server";
import { redirect } from "next/navigation";

import { AuthShell } from "@/components/auth/auth-shell";
import { SignInForm } from "@/components/auth/sign-in-form";
import { ClientMessages } from "@/components/shell/client-messages";
import { pageLocale } from "@/i18n/page-locale";
import { getSessionUser } from "@/lib/auth/session";
import { env } from "@/lib/config/env";
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
  // Attached, sign-up is the gateway's: the link leads to the page that says so.
  const attached = env().GATEWAY_DATABASE === "attached";
  const registrationOpen = attached || (await isRegistrationOpen().catch(() => false));
  return (
    <AuthShell>
      <ClientMessages namespaces={["SignIn"]}>
        <SignInForm
          locale={locale}
          next={typeof next === "string" ? next : undefined}
          registrationOpen={registrationOpen}
          oauthHint={attached}
        />
      </ClientMessages>
    </AuthShell>
  );
}
