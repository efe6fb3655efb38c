"use client";

import { useTranslations } from "next-intl";
import type { ReactNode } from "react";

import { knownKey } from "@/i18n/known-key";

/**
 * One limit input of a quota matrix: free text (so "abc" can be reported), error on the cell,
 * marked while it differs from what was loaded (`dirty`).
 */
export function QuotaCell({
  path,
  value,
  error,
  dirty = false,
  placeholder,
  label,
  onChange,
  children,
}: {
  path: string;
  value: string;
  error?: string;
  dirty?: boolean;
  placeholder: string;
  label: string;
  onChange: (text: string) => void;
  children?: ReactNode;
}) {
  const te = useTranslations("QuotaErrors");
  const tm = useTranslations("QuotaMatrix");
  const errorId = `${path}-error`;
  const dirtyId = `${path}-dirty`;
  const describedBy = error ? errorId : dirty ? dirtyId : undefined;
  return (
    <td className="px-2 py-1.5 align-top">
      <div className="relative">
        <input
          type="text"
          inputMode="decimal"
          autoComplete="off"
          data-cell={path}
          data-dirty={dirty ? "true" : undefined}
          aria-label={label}
          aria-invalid={error ? true : undefined}
          aria-describedby={describedBy}
          value={value}
          placeholder={placeholder}
          onChange={(e) => onChange(e.target.value)}
          className={`w-full min-w-24 rounded-md border px-2 py-1 font-mono text-sm tabular-nums placeholder:font-sans placeholder:text-slate-500 focus:ring-2 focus:outline-none ${
            error
              ? "border-red-600 bg-red-50 focus:ring-red-600/30"
              : value.trim() === "0"
                ? "border-amber-400 bg-amber-50 focus:ring-blue-600/30"
                : dirty
                  ? "border-blue-600 bg-blue-50 focus:ring-blue-600/30"
                  : "border-slate-300 focus:ring-blue-600/30"
          }`}
        />
        {dirty ? (
          <span
            id={dirtyId}
            title={tm("edited")}
            className="absolute -top-1 -right-1 h-2.5 w-2.5 rounded-full bg-blue-600 ring-2 ring-white"
          >
            <span className="sr-only">{tm("edited")}</span>
          </span>
        ) : null}
      </div>
      {error ? (
        <span id={errorId} role="alert" className="mt-1 block text-xs text-red-700">
          {te(knownKey(te, error, "NOT_A_NUMBER"))}
        </span>
      ) : null}
      {children}
    </td>
  );
}
