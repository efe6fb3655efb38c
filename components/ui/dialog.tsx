"use client";

import * as RadixDialog from "@radix-ui/react-dialog";
import { useState, type ReactNode } from "react";

/**
 * A modal dialog on Radix (the same generation as confirm-dialog's alert dialog): focus moves in
 * and Tab cycles inside, the page behind is inert and hidden from assistive tech, Esc and a click
 * on the backdrop ask to close (`onOpenChange(false)`; `onDismissAttempt` may refuse that, e.g.
 * to ask about unsaved edits first), and on close focus returns to the element that had it when
 * the dialog opened (or `returnFocusTo`).
 *
 * Layout: below the `sm` breakpoint a full-screen sheet, above it a centred panel; both keep the
 * header and the `footer` (the actions) on screen and scroll only the body.
 */
export function Dialog({
  open,
  onOpenChange,
  title,
  description,
  footer,
  children,
  onOpenAutoFocus,
  onDismissAttempt,
  returnFocusTo,
  className = "sm:max-w-5xl",
}: {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  title: ReactNode;
  description?: ReactNode;
  footer?: ReactNode;
  children: ReactNode;
  /** where focus goes on open; call `e.preventDefault()` to place it yourself */
  onOpenAutoFocus?: (e: Event) => void;
  /** Esc or a backdrop click: return false to keep the dialog open */
  onDismissAttempt?: () => boolean;
  returnFocusTo?: HTMLElement | null;
  /** width of the desktop panel */
  className?: string;
}) {
  // The element focused when the dialog opened: a modal opened from a list row has no Radix trigger.
  const [opener] = useState(() => (typeof document === "undefined" ? null : (document.activeElement as HTMLElement)));
  const dismiss = (e: Event) => {
    if (onDismissAttempt && !onDismissAttempt()) e.preventDefault();
  };
  return (
    <RadixDialog.Root open={open} onOpenChange={onOpenChange}>
      <RadixDialog.Portal>
        <RadixDialog.Overlay className="fixed inset-0 z-40 bg-slate-900/40" />
        <RadixDialog.Content
          onOpenAutoFocus={onOpenAutoFocus}
          onEscapeKeyDown={dismiss}
          onInteractOutside={dismiss}
          onCloseAutoFocus={(e) => {
            e.preventDefault();
            const target = returnFocusTo ?? opener;
            if (target?.isConnected) target.focus();
          }}
          className={`fixed inset-0 z-40 flex flex-col bg-white shadow-xl focus:outline-none sm:inset-x-0 sm:top-8 sm:bottom-auto sm:mx-auto sm:max-h-[calc(100dvh-4rem)] sm:w-[calc(100vw-2rem)] sm:rounded-xl ${className}`}
        >
          <div className="shrink-0 border-b border-slate-200 px-4 py-3 sm:px-6 sm:py-4">
            <RadixDialog.Title className="text-lg font-semibold">{title}</RadixDialog.Title>
            {description ? (
              <RadixDialog.Description className="text-sm break-all text-slate-600">
                {description}
              </RadixDialog.Description>
            ) : null}
          </div>
          <div className="min-h-0 flex-1 overflow-y-auto px-4 py-4 sm:px-6">{children}</div>
          {footer ? <div className="shrink-0 border-t border-slate-200 px-4 py-3 sm:px-6">{footer}</div> : null}
        </RadixDialog.Content>
      </RadixDialog.Portal>
    </RadixDialog.Root>
  );
}
