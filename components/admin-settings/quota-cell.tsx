"use client";

import { useTranslations } from "next-intl";
import type { ReactNode } from "react";

/** One limit input of a quota matrix: free text (so "abc" can be reported), error on the cell. */
export function QuotaCell({
  path,
  value,
  error,
  placeholder,
  label,
  onChange,
  children,
}: {
  path: string;
  value: string;
  error?: string;
  placeholder: string;
  label: string;
  onChange: (text: string) => void;
  children?: ReactNode;
}) {
  const te = useTranslations("QuotaErrors");
  const errorId = `${path}-error`;
  return (
    <td className="px-2 py-1.5 align-top">
      <input
        type="text"
        inputMode="decimal"
        autoComplete="off"
        data-cell={path}
        aria-label={label}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? errorId : undefined}
        value={value}
        placeholder={placeholder}
        onChange={(e) => onChange(e.target.value)}
        className={`w-full min-w-24 rounded-md border px-2 py-1 font-mono text-sm tabular-nums placeholder:font-sans placeholder:text-slate-400 focus:ring-2 focus:outline-none ${
          error
            ? "border-red-600 bg-red-50 focus:ring-red-600/30"
            : value.trim() === "0"
              ? "border-amber-400 bg-amber-50 focus:ring-blue-600/30"
              : "border-slate-300 focus:ring-blue-600/30"
        }`}
      />
      {error ? (
        <span id={errorId} role="alert" className="mt-1 block text-xs text-red-700">
          {te(error as "NOT_A_NUMBER")}
        </span>
      ) : null}
      {children}
    </td>
  );
}
