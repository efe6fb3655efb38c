import type { Metadata } from "next";
import { getTranslations, setRequestLocale } from "next-intl/server";

import { QuotaDefaultsForm } from "@/components/admin-settings/quota-defaults-form";
import { RegistrationForm } from "@/components/admin-settings/registration-form";
import { SettingsHealthAlert } from "@/components/admin-settings/settings-health-alert";
import { ClientMessages } from "@/components/shell/client-messages";
import { Card, Field, PageHeader } from "@/components/ui/card";
import { pageLocale } from "@/i18n/page-locale";
import { latestAudit } from "@/lib/audit/audit";
import { requireAdmin } from "@/lib/auth/guards";
import { isKnownPlatform, platformLabel } from "@/lib/billing/platforms";
import { env } from "@/lib/config/env";
import { getHealth } from "@/lib/health";
import { readRegistrationSetting } from "@/lib/settings/registration";
import { settingsHealth } from "@/lib/settings/signup-plan";
import { readQuotaDefaults } from "@/lib/settings/store";

export async function generateMetadata({ params }: PageProps<"/[locale]/admin/settings">): Promise<Metadata> {
  const t = await getTranslations({ locale: await pageLocale(params), namespace: "AdminSettings" });
  return { title: t("title") };
}

export default async function AdminSettingsPage({ params }: PageProps<"/[locale]/admin/settings">) {
  setRequestLocale(await pageLocale(params));
  await requireAdmin();
  const [defaults, registration, [last], health, t, tp] = await Promise.all([
    readQuotaDefaults(),
    readRegistrationSetting(),
    latestAudit("settings", "quota_defaults"),
    getHealth({ maxAgeMs: 5000 }),
    getTranslations("AdminSettings"),
    getTranslations("Platforms"),
  ]);
  const cache = { up: t("cacheUp"), down: t("cacheDown"), disabled: t("cacheDisabled") }[health.redis.status];
  return (
    <ClientMessages
      namespaces={["AdminSettings", "SettingsHealth", "Platforms", "Sources", "QuotaErrors", "QuotaMatrix"]}
    >
      <PageHeader title={t("title")} description={t("description")} />
      <SettingsHealthAlert issues={settingsHealth(defaults)} />
      <RegistrationForm initial={registration} />
      <QuotaDefaultsForm initial={defaults} lastChange={last ? { email: last.actorEmail, at: last.createdAt } : null} />
      <h2 className="mt-8 mb-3 text-base font-semibold">{t("systemInfo")}</h2>
      <div className="grid gap-4 md:grid-cols-2">
        <Card>
          <dl className="text-sm">
            <Field label={t("timezone")}>
              <span className="font-mono">{env().QUOTA_TIMEZONE}</span>
            </Field>
            <Field label={t("cache")}>{cache}</Field>
          </dl>
          <p className="mt-3 text-sm text-slate-600">{t("timezoneHint")}</p>
        </Card>
        <Card title={t("platforms")}>
          <ul className="grid grid-cols-2 gap-2 text-sm">
            {defaults.platforms.map((p) => (
              <li
                key={p}
                className="flex items-baseline justify-between rounded-md bg-slate-50 px-3 py-1.5"
                data-platform={p}
              >
                <span>{isKnownPlatform(p) ? platformLabel(p, tp) : p}</span>
                <span className="font-mono text-xs text-slate-500">{p}</span>
              </li>
            ))}
          </ul>
        </Card>
      </div>
    </ClientMessages>
  );
}
