import { setRequestLocale } from "next-intl/server";

import { AppHeader } from "@/components/shell/app-header";
import { CacheBanner } from "@/components/shell/cache-banner";
import { TimeZoneCookie } from "@/components/shell/time-zone-cookie";
import { pageLocale } from "@/i18n/page-locale";
import { requireUser } from "@/lib/auth/guards";
import { getHealth } from "@/lib/health";

export default async function ConsoleLayout({ children, params }: LayoutProps<"/[locale]">) {
  setRequestLocale(await pageLocale(params));
  const user = await requireUser(); // before any other work: anonymous requests stop here
  const health = await getHealth({ maxAgeMs: 5000 });
  return (
    <>
      <TimeZoneCookie refresh />
      <CacheBanner initial={health.redis.status} />
      <AppHeader user={user} />
      <main className="mx-auto max-w-6xl px-4 py-8">{children}</main>
    </>
  );
}
