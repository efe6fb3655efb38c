import { getTranslations } from "next-intl/server";

import type { SessionUser } from "@/lib/auth/session";

import { LocaleSwitcher } from "./locale-switcher";
import { NavLink } from "./nav-link";
import { SignOutButton } from "./sign-out-button";

/** Top bar: navigation (admin links only for admins), language, account. */
export async function AppHeader({ user }: { user: SessionUser }) {
  const t = await getTranslations("Nav");
  const tc = await getTranslations("Common");
  return (
    <header className="border-b border-slate-200 bg-white">
      {/* Two rows at every width: the account controls never squeeze the navigation into a wrap
          (five admin links and the account line did not fit one 1366 px row, nor zh on a phone). */}
      <div className="mx-auto max-w-6xl px-4 py-3">
        <div className="flex items-center gap-3">
          <span className="font-semibold break-keep">{tc("appName")}</span>
          <div className="ml-auto flex min-w-0 items-center gap-3">
            <span className="hidden truncate text-sm text-slate-600 sm:inline" title={user.email}>
              {t("signedInAs", { email: user.email })} · {user.role === "admin" ? t("roleAdmin") : t("roleUser")}
            </span>
            <LocaleSwitcher />
            <SignOutButton />
          </div>
        </div>
        <nav aria-label={t("main")} className="mt-2 flex flex-wrap items-center gap-1 text-sm break-keep">
          <NavLink href="/dashboard">{t("dashboard")}</NavLink>
          {user.role === "admin" ? (
            <div className="flex flex-wrap items-center gap-1" data-testid="admin-menu">
              <span className="mr-1 ml-3 text-xs font-semibold tracking-wide text-slate-500 uppercase">
                {t("admin")}
              </span>
              <NavLink href="/admin/overview">{t("overview")}</NavLink>
              <NavLink href="/admin/users">{t("users")}</NavLink>
              <NavLink href="/admin/bulk">{t("bulk")}</NavLink>
              <NavLink href="/admin/settings">{t("settings")}</NavLink>
              <NavLink href="/admin/cache">{t("cache")}</NavLink>
              <NavLink href="/admin/audit">{t("audit")}</NavLink>
              <NavLink href="/admin/transfer">{t("transfer")}</NavLink>
            </div>
          ) : null}
        </nav>
      </div>
    </header>
  );
}
