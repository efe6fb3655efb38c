"use client";

import { useFormatter, useLocale, useTranslations } from "next-intl";
import { useRouter } from "next/navigation";
import { useMemo, useRef, useState, useTransition } from "react";

import { saveQuotaDefaultsAction } from "@/lib/actions/settings";
import { AUTH_SOURCES, type AuthSource } from "@/lib/auth-sources";
import { formatGoFloat } from "@/lib/billing/encoding";
import { PLATFORMS, type Platform } from "@/lib/billing/platforms";
import { sourceQuotasKey } from "@/lib/settings/keys";
import {
  emptyQuotaMap,
  parseLimitInput,
  QUOTA_WINDOWS,
  type QuotaMap,
  type QuotaWindow,
} from "@/lib/settings/quota-schema";
import { planSignupDefaults, type PlannedLimit, type SignupDefaultsInput } from "@/lib/settings/signup-plan";
import type { QuotaDefaults } from "@/lib/settings/store";

import { formatUsdDecimal, limitText } from "./format";
import { QuotaCell } from "./quota-cell";
import { sourceUnreadableMessage } from "./settings-health-alert";

type TextMap = Record<Platform, Record<QuotaWindow, string>>;
type FormText = { system: TextMap; sources: Record<AuthSource, { grant: boolean; overrides: TextMap }> };

const toText = (m: QuotaMap): TextMap =>
  Object.fromEntries(
    PLATFORMS.map((p) => [
      p,
      { daily: limitText(m[p].daily), weekly: limitText(m[p].weekly), monthly: limitText(m[p].monthly) },
    ]),
  ) as TextMap;

function fromDefaults(d: QuotaDefaults): FormText {
  return {
    system: toText(d.system),
    sources: Object.fromEntries(
      AUTH_SOURCES.map((s) => [s, { grant: d.sources[s].grantOnSignup, overrides: toText(d.sources[s].overrides) }]),
    ) as FormText["sources"],
  };
}

/** The form still shows exactly what is stored (every cell and switch as loaded). */
function sameText(a: FormText, b: FormText): boolean {
  const sameMap = (x: TextMap, y: TextMap) => PLATFORMS.every((p) => QUOTA_WINDOWS.every((w) => x[p][w] === y[p][w]));
  return (
    sameMap(a.system, b.system) &&
    AUTH_SOURCES.every(
      (s) => a.sources[s].grant === b.sources[s].grant && sameMap(a.sources[s].overrides, b.sources[s].overrides),
    )
  );
}

/** Parse a text map; invalid cells become null here and are reported in `errors` by path. */
function parseMap(text: TextMap, prefix: string, errors: Record<string, string>): QuotaMap {
  const out = emptyQuotaMap();
  for (const p of PLATFORMS) {
    for (const w of QUOTA_WINDOWS) {
      const r = parseLimitInput(text[p][w]);
      if (r.ok) out[p][w] = r.value;
      else errors[`${prefix}.${p}.${w}`] = r.code;
    }
  }
  return out;
}

export function QuotaDefaultsForm({
  initial,
  lastChange,
}: {
  initial: QuotaDefaults;
  lastChange: { email: string; at: string } | null;
}) {
  const t = useTranslations("AdminSettings");
  const te = useTranslations("Errors");
  const tp = useTranslations("Platforms");
  const ts = useTranslations("Sources");
  const th = useTranslations("SettingsHealth");
  const format = useFormatter();
  const locale = useLocale();
  const router = useRouter();
  const [version, setVersion] = useState(initial.version);
  const [form, setForm] = useState<FormText>(() => fromDefaults(initial));
  const [serverErrors, setServerErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<{ kind: "invalid" | "conflict" | "other"; text: string } | null>(null);
  const [toast, setToast] = useState<string | null>(null);
  const [pending, startTransition] = useTransition();
  const formRef = useRef<HTMLFormElement>(null);

  // Parsed values and client-side errors, recomputed from the text on every edit.
  const parsed = useMemo(() => {
    const errors: Record<string, string> = {};
    const system = parseMap(form.system, "system", errors);
    const sources = Object.fromEntries(
      AUTH_SOURCES.map((s) => [
        s,
        {
          grantOnSignup: form.sources[s].grant,
          overrides: parseMap(form.sources[s].overrides, `sources.${s}.overrides`, errors),
        },
      ]),
    ) as Record<AuthSource, { grantOnSignup: boolean; overrides: QuotaMap }>;
    return { errors, system, sources };
  }, [form]);
  const errors = { ...serverErrors, ...parsed.errors };
  // The preview is planSignupDefaults, the function sign-up uses. While the form shows what is
  // stored, it previews the stored values, fallbacks included (an unreadable map, a value the rows
  // cannot hold). Once edited, it previews what a save would store; a save rewrites every key, so
  // nothing is unreadable after it.
  const stored = useMemo(() => fromDefaults(initial), [initial]);
  const pristine = useMemo(() => sameText(form, stored), [form, stored]);
  const plans = useMemo(() => {
    const edited: SignupDefaultsInput = {
      system: parsed.system,
      systemUnreadable: false,
      sources: Object.fromEntries(
        AUTH_SOURCES.map((s) => [s, { ...parsed.sources[s], unreadable: false }]),
      ) as SignupDefaultsInput["sources"],
    };
    const input = pristine ? initial : edited;
    return {
      preview: Object.fromEntries(AUTH_SOURCES.map((s) => [s, planSignupDefaults(input, s)])) as Record<
        AuthSource,
        ReturnType<typeof planSignupDefaults>
      >,
      storedHasFallbacks: Object.fromEntries(
        AUTH_SOURCES.map((s) => [s, planSignupDefaults(initial, s).fallbacks.length > 0]),
      ) as Record<AuthSource, boolean>,
    };
  }, [pristine, initial, parsed]);
  const windowName = { daily: t("windowDaily"), weekly: t("windowWeekly"), monthly: t("windowMonthly") };

  const setCell = (path: string, text: string) => {
    setServerErrors((prev) => {
      const next = { ...prev };
      delete next[path];
      return next;
    });
    setForm((f) => {
      const next = structuredClone(f);
      const [root, a, b, c, d] = path.split(".");
      if (root === "system") next.system[a as Platform][b as QuotaWindow] = text;
      else next.sources[a as AuthSource].overrides[c as Platform][d as QuotaWindow] = text;
      return next;
    });
  };

  const showValue = (v: number | null) =>
    v === null
      ? t("unlimited")
      : v === 0
        ? t("disabled")
        : format.number(v, {
            style: "currency",
            currency: "USD",
            currencyDisplay: "narrowSymbol",
            minimumFractionDigits: 0,
            maximumFractionDigits: 10,
          });
  const showLimit = (d: string | null) =>
    d === null ? t("unlimited") : d === "0" ? t("disabled") : formatUsdDecimal(locale, d);
  const fallbackMarker = (e: PlannedLimit) => {
    if (!e.fallback) return null;
    const stored = e.stored === undefined ? "" : formatGoFloat(e.stored);
    const text =
      e.fallback === "unreadable"
        ? th("markerUnreadable")
        : e.fallback === "too_large"
          ? th("markerClamped", { stored })
          : e.fallback === "too_many_decimals"
            ? th("markerRounded", { stored })
            : th("markerNegative", { stored });
    return (
      <span title={e.key} className="ml-1 rounded bg-red-100 px-1 text-[10px] font-medium text-red-800">
        {"⚠ "}
        {text}
      </span>
    );
  };

  function submit(e: React.FormEvent) {
    e.preventDefault();
    setToast(null);
    if (Object.keys(parsed.errors).length) {
      setFormError({ kind: "invalid", text: t("invalidCells") });
      formRef.current?.querySelector<HTMLInputElement>('[aria-invalid="true"]')?.focus();
      return;
    }
    startTransition(async () => {
      let r;
      try {
        r = await saveQuotaDefaultsAction({ version, system: parsed.system, sources: parsed.sources });
      } catch {
        setFormError({ kind: "other", text: t("tooLarge") });
        return;
      }
      if (r.ok) {
        setServerErrors({});
        setFormError(null);
        setVersion(r.data.defaults.version);
        setForm(fromDefaults(r.data.defaults));
        setToast(r.data.changed ? t("saved") : t("savedNoChange"));
        router.refresh();
        return;
      }
      if (r.code === "INVALID_INPUT" && r.fieldErrors) {
        setServerErrors(Object.fromEntries(Object.entries(r.fieldErrors).map(([k, v]) => [k, v[0]])));
        setFormError({ kind: "invalid", text: t("invalidCells") });
      } else if (r.code === "CONFLICT") setFormError({ kind: "conflict", text: te("CONFLICT") });
      else setFormError({ kind: "other", text: te(r.code as "INTERNAL_ERROR") });
    });
  }

  const matrix = (prefix: string, text: TextMap, inherited?: QuotaMap) => (
    <div className="overflow-x-auto">
      <table className="min-w-full text-sm">
        <thead className="text-left text-slate-600">
          <tr>
            <th className="px-2 py-1.5 font-medium">{t("platform")}</th>
            <th className="px-2 py-1.5 font-medium">{t("daily")}</th>
            <th className="px-2 py-1.5 font-medium">{t("weekly")}</th>
            <th className="px-2 py-1.5 font-medium">{t("monthly")}</th>
          </tr>
        </thead>
        <tbody>
          {PLATFORMS.map((p) => (
            <tr key={p} className="border-t border-slate-100">
              <th scope="row" className="px-2 py-1.5 text-left font-normal">
                <span className="font-mono text-xs text-slate-500">{p}</span>{" "}
                <span className="text-slate-800">{tp(p)}</span>
              </th>
              {QUOTA_WINDOWS.map((w) => (
                <QuotaCell
                  key={w}
                  path={`${prefix}.${p}.${w}`}
                  value={text[p][w]}
                  error={errors[`${prefix}.${p}.${w}`]}
                  label={t("cellLabel", { platform: tp(p), window: windowName[w] })}
                  placeholder={inherited ? t("inherits", { value: showValue(inherited[p][w]) }) : t("placeholder")}
                  onChange={(v) => setCell(`${prefix}.${p}.${w}`, v)}
                />
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );

  const originBadge = (e: PlannedLimit, source: AuthSource) => (
    <span
      className={`ml-1 rounded px-1 text-[10px] tracking-wide uppercase ${e.origin === "source" ? "bg-blue-100 text-blue-800" : "bg-slate-100 text-slate-600"}`}
    >
      {e.origin === "source" ? t("originSource", { source: ts(source) }) : t("originSystem")}
    </span>
  );

  return (
    <form ref={formRef} onSubmit={submit} noValidate className="space-y-6" aria-busy={pending}>
      <section className="rounded-xl border border-slate-200 bg-white p-5 shadow-sm" aria-labelledby="system-quotas">
        <h2 id="system-quotas" className="text-base font-semibold">
          {t("defaultPlatformQuotas")}
        </h2>
        <p className="mt-1 text-sm text-slate-600">{t("defaultPlatformQuotasHint")}</p>
        <p className="mt-2 rounded-md bg-amber-50 px-3 py-2 text-sm text-amber-900">{t("monthlyNotice")}</p>
        <div className="mt-3">{matrix("system", form.system)}</div>
      </section>

      <section className="rounded-xl border border-slate-200 bg-white p-5 shadow-sm" aria-labelledby="source-quotas">
        <h2 id="source-quotas" className="text-base font-semibold">
          {t("sourcesTitle")}
        </h2>
        <p className="mt-1 text-sm text-slate-600">{t("sourcesHint")}</p>
        <div className="mt-3 space-y-3">
          {AUTH_SOURCES.map((s) => {
            const src = form.sources[s];
            const effective = plans.preview[s].cells;
            return (
              <details key={s} open={src.grant} className="rounded-lg border border-slate-200" data-source={s}>
                <summary className="flex cursor-pointer items-center justify-between gap-3 px-4 py-2.5">
                  <span className="font-medium">{ts(s)}</span>
                  <span className={`text-xs ${src.grant ? "text-green-700" : "text-slate-500"}`}>
                    {src.grant ? t("grantOn") : t("grantOff")}
                  </span>
                </summary>
                <div className="space-y-3 border-t border-slate-100 px-4 py-3">
                  {initial.sources[s].unreadable ? (
                    <p className="rounded-md bg-red-50 px-3 py-2 text-sm text-red-800" data-unreadable={s}>
                      {sourceUnreadableMessage(
                        th,
                        {
                          kind: "unreadable",
                          key: sourceQuotasKey(s),
                          scope: "source",
                          source: s,
                          used: initial.sources[s].grantOnSignup,
                        },
                        ts(s),
                      )}
                    </p>
                  ) : null}
                  <label className="flex items-center gap-3 text-sm">
                    <input
                      type="checkbox"
                      role="switch"
                      aria-checked={src.grant}
                      checked={src.grant}
                      onChange={(e) =>
                        setForm((f) => ({
                          ...f,
                          sources: { ...f.sources, [s]: { ...f.sources[s], grant: e.target.checked } },
                        }))
                      }
                      className="h-4 w-4 accent-blue-700"
                    />
                    {t("grantOnSignup", { source: ts(s) })}
                  </label>
                  {src.grant ? (
                    <div>
                      <h3 className="text-sm font-semibold">{t("platformQuotasOverride")}</h3>
                      <p className="mb-2 text-xs text-slate-600">{t("platformQuotasOverrideHint")}</p>
                      {matrix(`sources.${s}.overrides`, src.overrides, parsed.system)}
                    </div>
                  ) : null}
                  <div>
                    <h3 className="text-sm font-semibold">{t("previewTitle", { source: ts(s) })}</h3>
                    {!pristine && plans.storedHasFallbacks[s] ? (
                      <p className="mt-1 text-xs text-amber-900">{th("previewAfterSave")}</p>
                    ) : null}
                    <table className="mt-1 min-w-full text-sm" data-preview={s}>
                      <tbody>
                        {PLATFORMS.map((p) => (
                          <tr key={p} className="border-t border-slate-100" data-platform={p}>
                            <th scope="row" className="px-2 py-1 text-left font-normal text-slate-700">
                              {tp(p)}
                            </th>
                            {QUOTA_WINDOWS.map((w) => (
                              <td
                                key={w}
                                className="px-2 py-1"
                                data-window={w}
                                data-origin={effective[p][w].origin}
                                data-fallback={effective[p][w].fallback ?? undefined}
                              >
                                <span className="sr-only">{windowName[w]}: </span>
                                <span className={effective[p][w].limit === "0" ? "font-medium text-red-700" : ""}>
                                  {showLimit(effective[p][w].limit)}
                                </span>
                                {originBadge(effective[p][w], s)}
                                {fallbackMarker(effective[p][w])}
                              </td>
                            ))}
                          </tr>
                        ))}
                      </tbody>
                    </table>
                  </div>
                </div>
              </details>
            );
          })}
        </div>
      </section>

      <div className="sticky bottom-0 flex flex-wrap items-center justify-between gap-3 rounded-xl border border-slate-200 bg-white/95 px-5 py-3 shadow-sm backdrop-blur">
        <p className="text-sm text-slate-600" data-testid="last-change">
          {lastChange
            ? t("lastChange", {
                email: lastChange.email,
                time: format.dateTime(new Date(lastChange.at), { dateStyle: "medium", timeStyle: "short" }),
              })
            : t("neverChanged")}
        </p>
        <div className="flex items-center gap-3">
          <div aria-live="polite" className="text-sm">
            {formError ? (
              <span role="alert" className="text-red-700" data-testid="form-error">
                {formError.text}{" "}
                {formError.kind === "conflict" ? (
                  <button type="button" className="underline" onClick={() => window.location.reload()}>
                    {t("reload")}
                  </button>
                ) : null}
              </span>
            ) : toast ? (
              <span role="status" className="text-green-700" data-testid="toast">
                {toast}
              </span>
            ) : null}
          </div>
          <button
            type="submit"
            disabled={pending}
            className="rounded-md bg-slate-900 px-4 py-2 text-sm font-medium text-white hover:bg-slate-700 disabled:opacity-60"
          >
            {pending ? t("saving") : t("save")}
          </button>
        </div>
      </div>
    </form>
  );
}
