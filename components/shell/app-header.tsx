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
      <div className="mx-auto flex max-w-6xl flex-wrap items-center gap-x-6 gap-y-2 px-4 py-3">
        <span className="font-semibold">{tc("appName")}</span>
        <nav
          aria-label={t("main")}
          className="order-last flex w-full flex-wrap items-center gap-1 text-sm sm:order-none sm:w-auto sm:flex-1"
        >
          <NavLink href="/dashboard">{t("dashboard")}</NavLink>
          {user.role === "admin" ? (
            <div className="flex flex-wrap items-center gap-1" data-testid="admin-menu">
              <span className="mr-1 ml-3 text-xs font-semibold tracking-wide text-slate-400 uppercase">
                {t("admin")}
              </span>
              <NavLink href="/admin/users">{t("users")}</NavLink>
              <NavLink href="/admin/settings">{t("settings")}</NavLink>
              <NavLink href="/admin/cache">{t("cache")}</NavLink>
              <NavLink href="/admin/audit">{t("audit")}</NavLink>
            </div>
          ) : null}
        </nav>
        <div className="ml-auto flex items-center gap-3">
          <span className="hidden text-sm text-slate-600 sm:inline" title={user.email}>
            {t("signedInAs", { email: user.email })} · {user.role === "admin" ? t("roleAdmin") : t("roleUser")}
          </span>
          <LocaleSwitcher />
          <SignOutButton />
        </div>
      </div>
    </header>
  );
}
