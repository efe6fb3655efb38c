"use client";

import { NextIntlClientProvider, useLocale, useTranslations, type Messages } from "next-intl";
import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from "react";

import { UserQuotaModal, type ModalUser } from "./user-quota-modal";

export type { ModalUser };

type Ctx = {
  open: (user: ModalUser) => void;
  close: () => void;
  notify: (text: string) => void;
  /** start loading the modal's messages (a pointer or focus on an opener) */
  prefetch: () => void;
};
const ModalContext = createContext<Ctx | null>(null);

/**
 * The modal's messages (UserQuotaModal, UsageHistory, QuotaMatrix, QuotaErrors, Platforms, Sources:
 * ~6 KiB) are not shipped inline with every users page: the locale's catalog is loaded as its own
 * chunk when an opener is pointed at, focused or clicked, once per locale and tab. It is the same
 * file the server reads (i18n/request.ts), compiled the same way at build time (next.config.ts).
 */
const catalogs = new Map<string, Promise<Messages>>();

function loadCatalog(locale: string): Promise<Messages> {
  let p = catalogs.get(locale);
  if (!p) {
    p = import(`../../messages/${locale}.json`).then((m: { default: Messages }) => m.default);
    p.catch(() => catalogs.delete(locale)); // retried on the next open
    catalogs.set(locale, p);
  }
  return p;
}

/** The per-user quota modal's state: which user it is open for, and the page's toast. */
export function useUserQuotaModal(): Ctx {
  const ctx = useContext(ModalContext);
  if (!ctx) throw new Error("useUserQuotaModal outside UserQuotaModalProvider");
  return ctx;
}

export function UserQuotaModalProvider({ children }: { children: ReactNode }) {
  const locale = useLocale();
  const te = useTranslations("Errors");
  const [user, setUser] = useState<ModalUser | null>(null);
  const [messages, setMessages] = useState<Messages | null>(null);
  const [toast, setToast] = useState<string | null>(null);
  const notify = useCallback((text: string) => {
    setToast(text);
    setTimeout(() => setToast((t) => (t === text ? null : t)), 5000);
  }, []);
  // Stable callbacks, so a toast appearing or expiring re-renders nothing but the toast.
  const close = useCallback(() => setUser(null), []);
  const prefetch = useCallback(() => void loadCatalog(locale).catch(() => {}), [locale]);
  const open = useCallback(
    (u: ModalUser) => {
      setUser(u);
      loadCatalog(locale).then(setMessages, () => {
        setUser(null);
        notify(te("INTERNAL_ERROR"));
      });
    },
    [locale, notify, te],
  );
  const value = useMemo<Ctx>(() => ({ open, close, notify, prefetch }), [open, close, notify, prefetch]);
  return (
    <ModalContext.Provider value={value}>
      {children}
      {user && messages ? (
        <NextIntlClientProvider locale={locale} messages={messages}>
          <UserQuotaModal key={user.id} user={user} onClose={close} notify={notify} />
        </NextIntlClientProvider>
      ) : null}
      {/* A polite live region that never takes focus; above the dialog's backdrop, and left out of
          the dialog's aria-hidden (Radix keeps [aria-live] visible); clicks pass through it. */}
      <div aria-live="polite" className="pointer-events-none fixed inset-x-4 bottom-4 z-50 flex justify-center">
        {toast ? (
          <p
            role="status"
            data-testid="toast"
            className="rounded-md bg-slate-900 px-4 py-2 text-sm text-white shadow-lg"
          >
            {toast}
          </p>
        ) : null}
      </div>
    </ModalContext.Provider>
  );
}
