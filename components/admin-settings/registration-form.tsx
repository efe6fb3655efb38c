"use client";

import { useTranslations } from "next-intl";
import { useState, useTransition } from "react";

import { errorText } from "@/components/auth/error-text";
import { saveRegistrationSettingAction } from "@/lib/actions/settings";
import type { RegistrationSetting } from "@/lib/settings/registration";

const CARD = "mb-6 rounded-xl border border-slate-200 bg-white p-5 shadow-sm";

/** The section's title and what it is about: shared by both forms below. */
function Heading({ hint }: { hint: string }) {
  const t = useTranslations("AdminSettings");
  return (
    <>
      <h2 id="registration-title" className="text-base font-semibold">
        {t("registrationTitle")}
      </h2>
      <p className="mt-1 text-sm text-slate-600">{hint}</p>
    </>
  );
}

/** One read-only switch: its name and its state. */
function StateRow({ label, testId, text, on }: { label: string; testId: string; text: string; on?: boolean }) {
  return (
    <div className="flex justify-between gap-4 border-b border-slate-100 py-2">
      <dt className="text-slate-600">{label}</dt>
      <dd className="font-medium" data-testid={testId} data-on={on}>
        {text}
      </dd>
    </div>
  );
}

/**
 * Attached (sign-up delegated to the gateway): the gateway's own switches, read-only — the
 * console has nothing to save here.
 */
function DelegatedRegistration({ gateway }: { gateway: NonNullable<RegistrationSetting["gateway"]> }) {
  const t = useTranslations("AdminSettings");
  const rows = [
    { label: t("registrationGateway"), on: gateway.registrationEnabled, id: "registration-gateway" },
    { label: t("registrationBackendMode"), on: gateway.backendMode, id: "registration-backend-mode" },
  ];
  return (
    <section
      className={CARD}
      aria-labelledby="registration-title"
      data-testid="registration-settings"
      data-delegated="true"
    >
      <Heading hint={t("registrationDelegated")} />
      <dl className="mt-3 text-sm">
        {rows.map((r) => (
          <StateRow key={r.id} label={r.label} testId={r.id} on={r.on} text={r.on ? t("gatewayOn") : t("gatewayOff")} />
        ))}
      </dl>
    </section>
  );
}

/**
 * Admin → Settings → Registration: the admin's switch, next to the operator's
 * (REGISTRATION_ENABLED, read-only here) and what the two give together. A save carries the
 * version it was loaded with; a stale one is refused with CONFLICT and a reload.
 */
export function RegistrationForm({ initial }: { initial: RegistrationSetting }) {
  return initial.gateway ? (
    <DelegatedRegistration gateway={initial.gateway} />
  ) : (
    <ConsoleRegistration initial={initial} />
  );
}

function ConsoleRegistration({ initial }: { initial: RegistrationSetting }) {
  const t = useTranslations("AdminSettings");
  const te = useTranslations("Errors");
  const [saved, setSaved] = useState(initial);
  const [enabled, setEnabled] = useState(initial.settingEnabled);
  const [message, setMessage] = useState<{ kind: "ok" | "conflict" | "error"; text: string } | null>(null);
  const [pending, startTransition] = useTransition();
  const open = saved.envEnabled && enabled;

  function submit(e: React.FormEvent) {
    e.preventDefault();
    setMessage(null);
    startTransition(async () => {
      const r = await saveRegistrationSettingAction({ enabled, version: saved.version });
      if (r.ok) {
        setSaved(r.data.setting);
        setEnabled(r.data.setting.settingEnabled);
        setMessage({ kind: "ok", text: r.data.changed ? t("registrationSaved") : t("savedNoChange") });
        // The action revalidates the settings page; no second render via router.refresh().
      } else if (r.code === "CONFLICT") setMessage({ kind: "conflict", text: te("CONFLICT") });
      else setMessage({ kind: "error", text: errorText(te, r.code) ?? te("INTERNAL_ERROR") });
    });
  }

  return (
    <form onSubmit={submit} className={CARD} aria-labelledby="registration-title" data-testid="registration-settings">
      <Heading hint={t("registrationHint")} />
      <dl className="mt-3 text-sm">
        <StateRow
          label={t("registrationEnv")}
          testId="registration-env"
          text={saved.envEnabled ? t("grantOn") : t("registrationOff")}
        />
      </dl>
      {saved.envEnabled ? null : (
        <p className="mt-2 rounded-md bg-amber-50 px-3 py-2 text-sm text-amber-900">{t("registrationEnvOff")}</p>
      )}
      <label className="mt-3 flex items-center gap-3 text-sm">
        <input
          type="checkbox"
          role="switch"
          name="registration"
          aria-checked={enabled}
          checked={enabled}
          onChange={(e) => setEnabled(e.target.checked)}
          className="h-4 w-4 accent-blue-700"
        />
        {t("registrationSwitch")}
      </label>
      <p
        className={`mt-3 text-sm font-medium ${open ? "text-green-700" : "text-slate-700"}`}
        data-testid="registration-effective"
        data-open={open}
      >
        {open ? t("registrationOpen") : t("registrationClosed")}
      </p>
      <div className="mt-3 flex items-center justify-end gap-3">
        <div aria-live="polite" className="text-sm">
          {message ? (
            <span
              role={message.kind === "ok" ? "status" : "alert"}
              className={message.kind === "ok" ? "text-green-700" : "text-red-700"}
              data-testid="registration-message"
            >
              {message.text}{" "}
              {message.kind === "conflict" ? (
                <button type="button" className="underline" onClick={() => window.location.reload()}>
                  {t("reload")}
                </button>
              ) : null}
            </span>
          ) : null}
        </div>
        <button
          type="submit"
          disabled={pending}
          className="rounded-md bg-slate-900 px-4 py-2 text-sm font-medium text-white hover:bg-slate-700 disabled:opacity-60"
        >
          {pending ? t("saving") : t("registrationSave")}
        </button>
      </div>
    </form>
  );
}
