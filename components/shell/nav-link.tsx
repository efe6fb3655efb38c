"use client";

import { useLocale } from "next-intl";
import Link from "next/link";
import { usePathname } from "next/navigation";
import type { ReactNode } from "react";

import { localePath, withoutLocale } from "@/i18n/locale-path";

export function NavLink({
  href,
  children,
}: {
  href:
    | "/dashboard"
    | "/admin/overview"
    | "/admin/users"
    | "/admin/bulk"
    | "/admin/settings"
    | "/admin/cache"
    | "/admin/audit"
    | "/admin/transfer";
  children: ReactNode;
}) {
  const locale = useLocale();
  const active = withoutLocale(usePathname(), locale) === href;
  return (
    <Link
      href={localePath(locale, href)}
      aria-current={active ? "page" : undefined}
      className={`rounded-md px-3 py-1.5 ${active ? "bg-slate-900 text-white" : "text-slate-700 hover:bg-slate-100"}`}
    >
      {children}
    </Link>
  );
}
