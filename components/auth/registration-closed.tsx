import { getTranslations } from "next-intl/server";

import { HaveAccount } from "./have-account";

/** The register page while registration is off (REGISTRATION_ENABLED and the admin's switch). */
export async function RegistrationClosed() {
  const t = await getTranslations("Register");
  return (
    <section className="rounded-xl border border-slate-200 bg-white p-6 shadow-sm" data-testid="registration-closed">
      <h1 className="text-xl font-semibold">{t("closedTitle")}</h1>
      <p className="mt-2 text-sm text-slate-600">{t("closedBody")}</p>
      <HaveAccount text={t("haveAccount")} signIn={t("signIn")} />
    </section>
  );
}
