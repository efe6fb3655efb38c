"use client";

import { useFormatter, useTranslations } from "next-intl";
import { useMemo, useRef, useState, useTransition } from "react";

import { cellErrors, parseQuotaText, quotaText, sameQuotaText, type QuotaText } from "@/components/quota/format";
import { QuotaMatrix, type QuotaMatrixLabels } from "@/components/quota/quota-matrix";
import { knownKey } from "@/i18n/known-key";
import { Link } from "@/i18n/navigation";
import { saveQuotaDefaultsAction } from "@/lib/actions/settings";
import { AUTH_SOURCES, type AuthSource } from "@/lib/auth-sources";
import { platformLabel, type Platform } from "@/lib/billing/platforms";
import type { QuotaWindow } from "@/lib/billing/vocabulary";
import { sourceQuotasKey } from "@/lib/settings/keys";
import type { QuotaMap } from "@/lib/settings/quota-schema";
import { planSignupDefaults, type SignupDefaultsInput } from "@/lib/settings/signup-plan";
import type { QuotaDefaults } from "@/lib/settings/store";

import { sourceUnreadableMessage } from "./settings-health-alert";
import { SignupPreview, useShowLimit } from "./signup-preview";

type FormText = { system: QuotaText; sources: Record<AuthSource, { grant: boolean; overrides: QuotaText }> };

/** The stored defaults as form text, over their registry (`d.platforms`, the server's). */
function fromDefaults(d: QuotaDefaults): FormText {
  const text = (m: QuotaMap) => quotaText(m, d.platforms);
  return {
    system: text(d.system),
    sources: Object.fromEntries(
      AUTH_SOURCES.map((s) => [s, { grant: d.sources[s].grantOnSignup, overrides: text(d.sources[s].overrides) }]),
    ) as FormText["sources"],
  };
}

/** The form still shows exactly what is stored (every cell and switch as loaded). */
function sameText(a: FormText, b: FormText, platforms: readonly string[]): boolean {
  const same = (x: QuotaText, y: QuotaText) => sameQuotaText(x, y, platforms);
  return (
    same(a.system, b.system) &&
    AUTH_SOURCES.every(
      (s) => a.sources[s].grant === b.sources[s].grant && same(a.sources[s].overrides, b.sources[s].overrides),
    )
  );
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
  const showValue = useShowLimit();
  const [version, setVersion] = useState(initial.version);
  const [form, setForm] = useState<FormText>(() => fromDefaults(initial));
  const [serverErrors, setServerErrors] = useState<Record<string, string>>({});
  const [formError, setFormError] = useState<{ kind: "invalid" | "conflict" | "other"; text: string } | null>(null);
  const [toast, setToast] = useState<string | null>(null);
  const [pending, startTransition] = useTransition();
  const formRef = useRef<HTMLFormElement>(null);
  // The platform registry the server validates against (the live gateway's in attached mode).
  const platforms = initial.platforms;

  // Parsed values and client-side errors, recomputed from the text on every edit.
  const parsed = useMemo(() => {
    const errors: Record<string, string> = {};
    const system = parseQuotaText(form.system, "system", errors, platforms);
    const sources = Object.fromEntries(
      AUTH_SOURCES.map((s) => [
        s,
        {
          grantOnSignup: form.sources[s].grant,
          overrides: parseQuotaText(form.sources[s].overrides, `sources.${s}.overrides`, errors, platforms),
        },
      ]),
    ) as Record<AuthSource, { grantOnSignup: boolean; overrides: QuotaMap }>;
    return { errors, system, sources };
  }, [form, platforms]);
  const errors = { ...serverErrors, ...parsed.errors };
  // The preview is planSignupDefaults, the function sign-up uses. While the form shows what is
  // stored, it previews the stored values, fallbacks included (an unreadable map, a value the rows
  // cannot hold). Once edited, it previews what a save would store; a save rewrites every key, so
  // nothing is unreadable after it.
  const stored = useMemo(() => fromDefaults(initial), [initial]);
  const pristine = useMemo(() => sameText(form, stored, platforms), [form, stored, platforms]);
  const plans = useMemo(() => {
    const edited: SignupDefaultsInput = {
      platforms,
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
  }, [pristine, initial, parsed, platforms]);
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
        // The request itself failed (connection lost, or a body over the server's limit).
        setFormError({ kind: "other", text: t("sendFailed") });
        return;
      }
      if (r.ok) {
        setServerErrors({});
        setFormError(null);
        setVersion(r.data.defaults.version);
        setForm(fromDefaults(r.data.defaults));
        setToast(r.data.changed ? t("saved") : t("savedNoChange"));
        return;
      }
      if (r.code === "INVALID_INPUT" && r.fieldErrors) {
        setServerErrors(cellErrors(r.fieldErrors));
        setFormError({ kind: "invalid", text: t("invalidCells") });
      } else if (r.code === "CONFLICT") setFormError({ kind: "conflict", text: te("CONFLICT") });
      else
        setFormError({
          kind: "other",
          text: r.errorId
            ? `${te(knownKey(te, r.code, "INTERNAL_ERROR"))} ${te("errorId", { id: r.errorId })}`
            : te(knownKey(te, r.code, "INTERNAL_ERROR")),
        });
    });
  }

  const labels = (inherited?: QuotaMap): QuotaMatrixLabels => ({
    headers: { platform: t("platform"), daily: t("daily"), weekly: t("weekly"), monthly: t("monthly") },
    cell: (p, w) => t("cellLabel", { platform: platformLabel(p, tp), window: windowName[w] }),
    placeholder: (p, w) => (inherited ? t("inherits", { value: showValue(inherited[p][w]) }) : t("placeholder")),
  });
  const matrix = (prefix: string, text: QuotaText, loaded: QuotaText, inherited?: QuotaMap) => (
    <QuotaMatrix
      platforms={platforms}
      prefix={prefix}
      text={text}
      loaded={loaded}
      errors={errors}
      labels={labels(inherited)}
      onChange={(path, _p, _w, v) => setCell(path, v)}
    />
  );

  return (
    <form ref={formRef} onSubmit={submit} noValidate className="space-y-6" aria-busy={pending}>
      <section className="rounded-xl border border-slate-200 bg-white p-5 shadow-sm" aria-labelledby="system-quotas">
        <h2 id="system-quotas" className="text-base font-semibold">
          {t("defaultPlatformQuotas")}
        </h2>
        <p className="mt-1 text-sm text-slate-600">{t("defaultPlatformQuotasHint")}</p>
        <p className="mt-2 rounded-md bg-amber-50 px-3 py-2 text-sm text-amber-900">{t("monthlyNotice")}</p>
        <div className="mt-3">{matrix("system", form.system, stored.system)}</div>
      </section>

      <section className="rounded-xl border border-slate-200 bg-white p-5 shadow-sm" aria-labelledby="source-quotas">
        <h2 id="source-quotas" className="text-base font-semibold">
          {t("sourcesTitle")}
        </h2>
        <p className="mt-1 text-sm text-slate-600">{t("sourcesHint")}</p>
        <div className="mt-3 space-y-3">
          {AUTH_SOURCES.map((s) => {
            const src = form.sources[s];
            return (
              // Open as stored, then the admin's: switching the grant off must not collapse the
              // panel under the cursor (issue 13 #7) — React only re-applies `open` when it changes.
              <details
                key={s}
                open={initial.sources[s].grantOnSignup}
                className="rounded-lg border border-slate-200"
                data-source={s}
              >
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
                      {matrix(`sources.${s}.overrides`, src.overrides, stored.sources[s].overrides, parsed.system)}
                    </div>
                  ) : null}
                  <SignupPreview
                    source={s}
                    plan={plans.preview[s]}
                    staleNote={!pristine && plans.storedHasFallbacks[s]}
                  />
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
                time: format.dateTime(new Date(lastChange.at), "dateTime"),
              })
            : t("neverChanged")}{" "}
          {lastChange ? (
            <Link href={{ pathname: "/admin/audit", query: { kind: "quota_defaults" } }} className="underline">
              {t("history")}
            </Link>
          ) : null}
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
