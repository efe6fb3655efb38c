import { getTranslations } from "next-intl/server";

import { HaveAccount } from "./have-account";

/**
 * The register page when the console is attached to the gateway's database: sign-up is the
 * gateway's (lib/settings/registration.ts), so this points there — to its sign-up page when
 * GATEWAY_URL names the gateway.
 */
export async function RegistrationDelegated({ gatewayUrl }: { gatewayUrl?: string }) {
  const t = await getTranslations("Register");
  return (
    <section className="rounded-xl border border-slate-200 bg-white p-6 shadow-sm" data-testid="registration-delegated">
      <h1 className="text-xl font-semibold">{t("delegatedTitle")}</h1>
      <p className="mt-2 text-sm text-slate-600">{t("delegatedBody")}</p>
      {gatewayUrl ? (
        <p className="mt-4">
          <a
            href={new URL("/register", gatewayUrl).href}
            className="font-medium text-blue-700 underline"
            rel="noopener noreferrer"
          >
            {t("delegatedLink")}
          </a>
        </p>
      ) : null}
      <HaveAccount text={t("haveAccount")} signIn={t("signIn")} />
    </section>
  );
}
