"use client";

import { useTranslations } from "next-intl";
import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from "react";

import { UserQuotaModal, type ModalUser } from "./user-quota-modal";

export type { ModalUser };

type Ctx = { open: (user: ModalUser) => void; close: () => void; notify: (text: string) => void };
const ModalContext = createContext<Ctx | null>(null);

/** The per-user quota modal's state: which user it is open for, and the page's toast. */
export function useUserQuotaModal(): Ctx {
  const ctx = useContext(ModalContext);
  if (!ctx) throw new Error("useUserQuotaModal outside UserQuotaModalProvider");
  return ctx;
}

export function UserQuotaModalProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<ModalUser | null>(null);
  const [toast, setToast] = useState<string | null>(null);
  const notify = useCallback((text: string) => {
    setToast(text);
    setTimeout(() => setToast((t) => (t === text ? null : t)), 5000);
  }, []);
  // Stable callbacks, so a toast appearing or expiring re-renders nothing but the toast.
  const close = useCallback(() => setUser(null), []);
  const value = useMemo<Ctx>(() => ({ open: setUser, close, notify }), [close, notify]);
  return (
    <ModalContext.Provider value={value}>
      {children}
      {user ? <UserQuotaModal key={user.id} user={user} onClose={close} notify={notify} /> : null}
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

/** The row button that opens the modal for a user. */
export function QuotaModalTrigger({ user }: { user: ModalUser }) {
  const t = useTranslations("AdminUsers");
  const { open } = useUserQuotaModal();
  return (
    <button
      type="button"
      onClick={() => open(user)}
      aria-label={t("quotasButtonFor", { email: user.email })}
      className="btn-row"
    >
      {t("quotasButton")}
    </button>
  );
}
