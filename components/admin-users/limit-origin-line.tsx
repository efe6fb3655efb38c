"use client";

import { useFormatter, useTranslations } from "next-intl";

import { Link } from "@/i18n/navigation";
import type { LimitOrigin } from "@/lib/quota/limit-origin";

/** Under a modal cell: why the cell holds its value (a console edit, the sign-up defaults, or neither). */
export function LimitOriginLine({ origin, userId }: { origin: LimitOrigin | undefined; userId: number }) {
  const t = useTranslations("UserQuotaModal");
  const ts = useTranslations("Sources");
  const format = useFormatter();
  if (!origin) return null;
  const text =
    origin.kind === "edit"
      ? t("originEdit", { email: origin.actorEmail, time: format.dateTime(new Date(origin.at), "dateTime") })
      : origin.kind === "signup"
        ? origin.from === "source" && origin.source
          ? t("originSignupSource", { source: ts(origin.source) })
          : t("originSignupSystem")
        : t("originOutside");
  return (
    <p className="mt-0.5 text-xs text-slate-500" data-origin={origin.kind}>
      {origin.kind === "edit" ? (
        <Link href={{ pathname: "/admin/audit", query: { user: String(userId) } }} className="underline">
          {text}
        </Link>
      ) : (
        text
      )}
    </p>
  );
}
