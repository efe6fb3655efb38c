import { getTranslations } from "next-intl/server";
import { Link } from "@/i18n/navigation";

/** The register page while registration is off (REGISTRATION_ENABLED and the admin's switch). */
export async function RegistrationClosed() {
  const t = await getTranslations("Register");
  return (
    <section className="rounded-xl border border-slate-200 bg-white p-6 shadow-sm" data-testid="registration-closed">
      <h1 className="text-xl font-semibold">{t("closedTitle")}</h1>
      <p className="mt-2 text-sm text-slate-600">{t("closedBody")}</p>
      <p className="mt-4 text-center text-sm text-slate-600">
        {t("haveAccount")}{" "}
        <Link href="/sign-in" className="font-medium text-blue-700 underline">
          {t("signIn")}
        </Link>
      </p>
    </section>
  );
}
