"use client";

import type { ReactNode } from "react";

import { Link, usePathname } from "@/i18n/navigation";

export function NavLink({
  href,
  children,
}: {
  href:
    | "/dashboard"
    | "/admin/users"
    | "/admin/bulk"
    | "/admin/settings"
    | "/admin/cache"
    | "/admin/audit"
    | "/admin/transfer";
  children: ReactNode;
}) {
  const active = usePathname() === href;
  return (
    <Link
      href={href}
      aria-current={active ? "page" : undefined}
      className={`rounded-md px-3 py-1.5 ${active ? "bg-slate-900 text-white" : "text-slate-700 hover:bg-slate-100"}`}
    >
      {children}
    </Link>
  );
}
