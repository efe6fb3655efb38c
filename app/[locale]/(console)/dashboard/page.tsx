import type { Metadata } from "next";
import { getFormatter, getTranslations, setRequestLocale } from "next-intl/server";
import { redirect } from "next/navigation";

import { QuotaCards } from "@/components/dashboard/quota-cards";
import { ClientMessages } from "@/components/shell/client-messages";
import { Card, Field, PageHeader } from "@/components/ui/card";
import { LazyUsageHistory } from "@/components/usage-history/lazy";
import { pageLocale } from "@/i18n/page-locale";
import { isAuthSource } from "@/lib/auth-sources";
import { requireUser } from "@/lib/auth/guards";
import { getMyQuotas } from "@/lib/quota/user";
import { getUser } from "@/lib/users/users";

export async function generateMetadata({ params }: PageProps<"/[locale]/dashboard">): Promise<Metadata> {
  const t = await getTranslations({ locale: await pageLocale(params), namespace: "Dashboard" });
  return { title: t("title") };
}

export default async function DashboardPage({ params }: PageProps<"/[locale]/dashboard">) {
  const locale = await pageLocale(params);
  setRequestLocale(locale);
  const session = await requireUser();
  // Read here and handed to the cards: no loading flash, then live refetches in the browser.
  const [me, quotas, t, tn, ts, th, format] = await Promise.all([
    getUser(session.id),
    getMyQuotas(session.id),
    getTranslations("Dashboard"),
    getTranslations("Nav"),
    getTranslations("Sources"),
    getTranslations("UsageHistory"),
    getFormatter(),
  ]);
  if (!me) redirect(`/${locale}/sign-in`); // the account went away after the session was read
  return (
    <>
      <PageHeader title={t("welcome", { name: me.username || me.email })} />
      <Card title={t("account")} className="max-w-xl">
        <dl className="text-sm">
          <Field label={t("email")}>{me.email}</Field>
          <Field label={t("role")}>{me.role === "admin" ? tn("roleAdmin") : tn("roleUser")}</Field>
          <Field label={t("signupSource")}>
            {isAuthSource(me.signupSource) ? ts(me.signupSource) : me.signupSource}
          </Field>
          <Field label={t("balance")}>{format.number(Number(me.balance), "usd")}</Field>
          <Field label={t("memberSince")}>{format.dateTime(new Date(me.createdAt), "date")}</Field>
        </dl>
      </Card>
      <ClientMessages namespaces={["Dashboard", "Platforms", "UsageHistory"]}>
        <QuotaCards initial={quotas} />
        {/* After the cards: the chart is a lazy chunk (not in the first load); it sees the cards' quota reads. */}
        <Card title={th("title")} className="mt-8">
          <p className="-mt-2 mb-1 text-sm text-slate-600">{th("subtitle")}</p>
          <LazyUsageHistory scope={{ kind: "me" }} />
        </Card>
      </ClientMessages>
    </>
  );
}
