"use client";

import { useTranslations } from "next-intl";
import type { ReactNode } from "react";

import { isKnownPlatform as isKnown, platformLabel, type Platform } from "@/lib/billing/platforms";
import { QUOTA_WINDOWS, type QuotaWindow } from "@/lib/billing/vocabulary";

import type { QuotaText } from "./format";
import { QuotaCell } from "./quota-cell";

export type QuotaMatrixLabels = {
  /** column headers */
  headers: Record<"platform" | QuotaWindow, string>;
  /** the input's accessible name, e.g. "Claude daily limit (USD)" */
  cell: (platform: Platform, window: QuotaWindow) => string;
  placeholder: (platform: Platform, window: QuotaWindow) => string;
};

/**
 * The platform × window matrix of limit inputs, shared by the settings defaults and the per-user
 * modal. Each cell's path is `${prefix}.${platform}.${window}`: the path a server action reports
 * its field error under, so `errors` is keyed exactly as the server answers.
 */
export function QuotaMatrix({
  platforms,
  prefix,
  text,
  loaded,
  errors,
  labels,
  onChange,
  cellExtra,
}: {
  /** the platform registry, one row each in its order (the live gateway's in attached mode) */
  platforms: readonly string[];
  prefix: string;
  text: QuotaText;
  /** what was loaded: a cell that differs from it is marked as edited */
  loaded?: QuotaText;
  errors: Record<string, string>;
  labels: QuotaMatrixLabels;
  onChange: (path: string, platform: Platform, window: QuotaWindow, text: string) => void;
  /** more content under a cell (the modal's usage and reset button) */
  cellExtra?: (platform: Platform, window: QuotaWindow) => ReactNode;
}) {
  const tp = useTranslations("Platforms");
  return (
    <div className="overflow-x-auto">
      <table className="min-w-full text-sm">
        <thead className="text-left text-slate-600">
          <tr>
            {(["platform", ...QUOTA_WINDOWS] as const).map((h) => (
              <th key={h} className="px-2 py-1.5 font-medium">
                {labels.headers[h]}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {platforms.map((p) => (
            <tr key={p} className="border-t border-slate-100" data-matrix-platform={p}>
              <th scope="row" className="px-2 py-1.5 text-left align-top font-normal">
                <span className="font-mono text-xs text-slate-500">{p}</span>
                {/* a fork's platform has no display name: its raw name alone */}
                {isKnown(p) ? (
                  <>
                    {" "}
                    <span className="text-slate-800">{platformLabel(p, tp)}</span>
                  </>
                ) : null}
              </th>
              {QUOTA_WINDOWS.map((w) => {
                const path = `${prefix}.${p}.${w}`;
                return (
                  <QuotaCell
                    key={w}
                    path={path}
                    value={text[p][w]}
                    error={errors[path]}
                    dirty={loaded ? loaded[p][w] !== text[p][w] : false}
                    label={labels.cell(p, w)}
                    placeholder={labels.placeholder(p, w)}
                    onChange={(v) => onChange(path, p, w, v)}
                  >
                    {cellExtra?.(p, w)}
                  </QuotaCell>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
