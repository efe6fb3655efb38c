"use client";

import * as AlertDialog from "@radix-ui/react-alert-dialog";
import { useRef, type ReactElement, type ReactNode } from "react";

/**
 * "Are you sure?" before a destructive action, as a Radix alert dialog: focus moves into it (to
 * Cancel), Tab stays inside, Esc or Cancel closes it without acting, and focus returns to the
 * trigger. `onConfirm` runs only from the confirm button. `trigger` must be one element that
 * accepts a ref and onClick (a <button>). Without a trigger it is controlled (`open`,
 * `onOpenChange`) and gives focus back to `returnFocusTo`, else to whatever had it when it opened.
 */
export function ConfirmDialog({
  trigger,
  title,
  description,
  confirmLabel,
  cancelLabel,
  onConfirm,
  open,
  onOpenChange,
  returnFocusTo,
}: {
  trigger?: ReactElement;
  open?: boolean;
  onOpenChange?: (open: boolean) => void;
  /** controlled: where focus goes on close (e.g. the button that opened it; a click does not focus a button in every browser) */
  returnFocusTo?: HTMLElement | null;
  title: ReactNode;
  description: ReactNode;
  confirmLabel: string;
  cancelLabel: string;
  onConfirm: () => void;
}) {
  const before = useRef<HTMLElement | null>(null);
  return (
    <AlertDialog.Root open={open} onOpenChange={onOpenChange}>
      {trigger ? <AlertDialog.Trigger asChild>{trigger}</AlertDialog.Trigger> : null}
      <AlertDialog.Portal>
        <AlertDialog.Overlay className="fixed inset-0 z-50 bg-slate-900/40" />
        <AlertDialog.Content
          onOpenAutoFocus={() => {
            if (!trigger) before.current = returnFocusTo ?? (document.activeElement as HTMLElement | null);
          }}
          onCloseAutoFocus={(e) => {
            if (trigger || !before.current?.isConnected) return;
            e.preventDefault();
            before.current.focus();
          }}
          className="fixed top-1/2 left-1/2 z-50 w-[min(28rem,calc(100vw-2rem))] -translate-x-1/2 -translate-y-1/2 rounded-xl bg-white p-6 text-left shadow-xl"
        >
          <AlertDialog.Title className="text-lg font-semibold text-slate-900">{title}</AlertDialog.Title>
          <AlertDialog.Description className="mt-2 text-sm text-slate-600">{description}</AlertDialog.Description>
          <div className="mt-6 flex justify-end gap-2">
            <AlertDialog.Cancel className="rounded-md border border-slate-300 px-4 py-2 text-sm hover:bg-slate-100">
              {cancelLabel}
            </AlertDialog.Cancel>
            <AlertDialog.Action
              onClick={onConfirm}
              className="rounded-md bg-red-700 px-4 py-2 text-sm font-medium text-white hover:bg-red-800"
            >
              {confirmLabel}
            </AlertDialog.Action>
          </div>
        </AlertDialog.Content>
      </AlertDialog.Portal>
    </AlertDialog.Root>
  );
}
