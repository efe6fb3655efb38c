import { useLocale, useTranslations } from "next-intl";

import { formatUsdDecimal } from "@/components/quota/format";
import { formatGoFloat } from "@/lib/billing/encoding";
import { platformLabel } from "@/lib/billing/platforms";
import type { SettingsHealthIssue } from "@/lib/settings/signup-plan";

/**
 * Above the quota-defaults form: each stored value that new users do not get as stored (an
 * unreadable map, a limit the quota rows cannot hold), named by its settings key, with what new
 * users get instead (the policy of lib/settings/signup-plan.ts). Nothing when all is well.
 */
export function SettingsHealthAlert({ issues }: { issues: SettingsHealthIssue[] }) {
  const t = useTranslations("SettingsHealth");
  const ta = useTranslations("AdminSettings");
  const tp = useTranslations("Platforms");
  const ts = useTranslations("Sources");
  const locale = useLocale();
  if (issues.length === 0) return null;
  const windowName = { daily: ta("windowDaily"), weekly: ta("windowWeekly"), monthly: ta("windowMonthly") };
  const message = (i: SettingsHealthIssue) => {
    if (i.kind === "unreadable")
      return i.scope === "system" ? t("unreadableSystem", { key: i.key }) : sourceUnreadableMessage(t, i, ts(i.source));
    const args = {
      key: i.key,
      platform: platformLabel(i.platform, tp),
      window: windowName[i.window],
      stored: formatGoFloat(i.stored),
    };
    if (i.reason === "negative") return t("negative", args);
    const applied = i.applied === "0" ? ta("disabled") : formatUsdDecimal(locale, i.applied);
    return i.reason === "too_large" ? t("clamped", { ...args, applied }) : t("rounded", { ...args, applied });
  };
  return (
    <div
      role="alert"
      aria-labelledby="settings-health-title"
      data-testid="settings-health"
      className="mb-6 rounded-xl border border-red-300 bg-red-50 px-5 py-4 text-sm text-red-900"
    >
      <p id="settings-health-title" className="font-semibold">
        {t("title")}
      </p>
      <ul className="mt-2 list-disc space-y-1 pl-5">
        {issues.map((i) => (
          <li key={i.kind === "unreadable" ? i.key : `${i.key}.${i.platform}.${i.window}`} data-key={i.key}>
            {message(i)}
          </li>
        ))}
      </ul>
    </div>
  );
}

type HealthT = ReturnType<typeof useTranslations<"SettingsHealth">>;

/** The message of an unreadable source map, also shown next to that source's switch. */
export function sourceUnreadableMessage(
  t: HealthT,
  i: Extract<SettingsHealthIssue, { scope: "source" }>,
  sourceName: string,
): string {
  const args = { key: i.key, source: sourceName };
  return i.used ? t("unreadableSource", args) : t("unreadableSourceIgnored", args);
}
