import { NextIntlClientProvider, type Messages } from "next-intl";
import { getMessages } from "next-intl/server";
import type { ReactNode } from "react";

/**
 * The namespaces client components of the shell can render anywhere: the sign-out button (Common),
 * the locale switcher, the cache banner (Status) and the error boundary (app/[locale]/error.tsx:
 * ErrorPage, Errors).
 */
export const SHELL_NAMESPACES = ["Common", "LocaleSwitcher", "Status", "ErrorPage", "Errors"] as const;

type Namespace = keyof Messages;

/**
 * Hands the client only the message namespaces its components under here use (`useTranslations`
 * in "use client" files), plus the shell's: every message given to a NextIntlClientProvider is
 * serialized into the page's RSC payload, and the whole catalog is ~25 kB per page. A provider
 * replaces its parent's messages, hence the shell's in every set. A namespace missing here shows as
 * a MISSING_MESSAGE console error on the page (the e2e suites fail on console errors).
 */
export async function ClientMessages({
  namespaces,
  children,
}: {
  namespaces: readonly Namespace[];
  children: ReactNode;
}) {
  const all = await getMessages();
  const picked: Partial<Messages> = {};
  for (const ns of [...SHELL_NAMESPACES, ...namespaces]) (picked as Record<string, unknown>)[ns] = all[ns];
  return <NextIntlClientProvider messages={picked as Messages}>{children}</NextIntlClientProvider>;
}
