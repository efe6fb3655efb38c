"use client";

import { useQuery } from "@tanstack/react-query";
import { useFormatter, useTranslations } from "next-intl";
import type { ReactNode } from "react";

import type { CacheStatus } from "@/lib/quota/cache-health";
import { CACHE_STATUS_REFRESH_MS, fetchCacheStatus, quotaKeys } from "@/lib/quota/query";

type Tone = "ok" | "attention" | "unknown";
type Item = { id: string; label: string; value: ReactNode; hint: string; tone: Tone };

/** How long a flusher may stay silent while keys wait before the panel calls it a problem. */
const FLUSH_STALE_SECONDS = 60;

/** The ledger's backlog, one line each with what it means and when it is a problem; live every 10 s. */
export function CacheStatusPanel() {
  const t = useTranslations("CacheHealth");
  const format = useFormatter();
  const { data, isError } = useQuery({
    queryKey: quotaKeys.cacheStatus,
    queryFn: fetchCacheStatus,
    refetchInterval: CACHE_STATUS_REFRESH_MS,
    refetchIntervalInBackground: false,
  });
  return (
    <section aria-labelledby="cache-status-title" className="rounded-xl border border-slate-200 bg-white p-5 shadow-sm">
      <div className="mb-3 flex flex-wrap items-baseline justify-between gap-x-4 gap-y-1">
        <h2 id="cache-status-title" className="text-base font-semibold">
          {t("statusTitle")}
        </h2>
        {data ? (
          <span className="text-xs text-slate-500" data-testid="status-time">
            {t("live", {
              time: format.dateTime(new Date(data.time), "clock"),
            })}
          </span>
        ) : null}
      </div>
      {isError ? (
        <p role="alert" className="mb-3 rounded-md bg-red-50 px-3 py-2 text-sm text-red-800">
          {t("loadFailed")}
        </p>
      ) : null}
      {data ? <StatusList status={data} /> : null}
    </section>
  );
}

function StatusList({ status }: { status: CacheStatus }) {
  const t = useTranslations("CacheHealth");
  const items = useItems(status);
  return (
    <dl className="grid gap-3 md:grid-cols-2">
      {items.map((i) => (
        <div
          key={i.id}
          data-testid={`status-${i.id}`}
          data-tone={i.tone}
          className="min-w-0 rounded-lg border border-slate-100 bg-slate-50 p-3"
        >
          <dt className="flex flex-wrap items-center justify-between gap-2 text-sm text-slate-600">
            <span>{i.label}</span>
            <span
              className={`rounded-full px-2 py-0.5 text-xs font-medium ${
                i.tone === "ok"
                  ? "bg-green-100 text-green-800"
                  : i.tone === "attention"
                    ? "bg-amber-100 text-amber-900"
                    : "bg-slate-200 text-slate-700"
              }`}
            >
              {t(i.tone)}
            </span>
          </dt>
          <dd className="mt-1 text-base font-semibold break-words tabular-nums" data-testid={`status-${i.id}-value`}>
            {i.value}
          </dd>
          <dd className="mt-1 text-xs text-slate-600">{i.hint}</dd>
        </div>
      ))}
    </dl>
  );
}

function useItems(s: CacheStatus): Item[] {
  const t = useTranslations("CacheHealth");
  const format = useFormatter();
  const now = new Date(s.time); // ages against the server's clock, so server and browser render alike
  const ago = (seconds: number) => format.relativeTime(new Date(now.getTime() - seconds * 1000), now);
  const flusher = s.mode === "flusher";
  const l = s.ledger;
  const redisUnknown = s.redis.status === "up" ? t("unknown") : t("unknownRedis");
  const n = (v: number) => format.number(v);
  const store = (h: CacheStatus["redis"]) =>
    h.status === "up"
      ? t("up", { ms: format.number(h.latencyMs ?? 0, { maximumFractionDigits: 1 }) })
      : h.status === "down"
        ? t("down")
        : t("disabled");
  const count = (v: number | null, bad: (v: number) => boolean): Pick<Item, "value" | "tone"> =>
    v === null ? { value: redisUnknown, tone: "unknown" } : { value: n(v), tone: bad(v) ? "attention" : "ok" };

  const dirty = count(l.dirty, (v) => !flusher && v > 0);
  const flushStale =
    flusher && (l.dirty ?? 0) > 0 && (l.lastFlushAgeSeconds === null || l.lastFlushAgeSeconds > FLUSH_STALE_SECONDS);
  const drift = l.lastDrift;
  return [
    {
      id: "mode",
      label: t("mode"),
      value: flusher ? t("modeFlusher") : t("modeDirect"),
      hint: flusher ? t("modeFlusherHint") : t("modeDirectHint"),
      tone: "ok",
    },
    {
      id: "stores",
      label: t("stores"),
      value: (
        <>
          <span className="block">PostgreSQL: {store(s.database)}</span>
          <span className="block">Redis: {store(s.redis)}</span>
        </>
      ),
      hint: t("storesHint"),
      tone: s.database.status === "up" && s.redis.status === "up" ? "ok" : "attention",
    },
    { id: "dirty", label: t("dirty"), ...dirty, hint: flusher ? t("dirtyHintFlusher") : t("dirtyHintDirect") },
    { id: "flushing", label: t("flushing"), ...count(l.flushing, () => false), hint: t("flushingHint") },
    { id: "journal", label: t("journal"), ...count(l.journal, (v) => v > 0), hint: t("journalHint") },
    {
      id: "outbox",
      label: t("outbox"),
      ...(l.outbox === null
        ? { value: t("unknownDatabase"), tone: "unknown" as const }
        : {
            value: (
              <>
                <span className="block">{t("outboxValue", { rows: l.outbox.rows, overdue: n(l.outbox.overdue) })}</span>
                {l.outbox.oldestSeconds !== null ? (
                  <span className="block text-sm font-normal text-slate-700">
                    {t("outboxOldest", { age: ago(l.outbox.oldestSeconds) })}
                  </span>
                ) : null}
              </>
            ),
            tone: l.outbox.overdue > 0 ? ("attention" as const) : ("ok" as const),
          }),
      hint: t("outboxHint"),
    },
    {
      id: "last-flush",
      label: t("lastFlush"),
      value:
        l.lastFlushAgeSeconds === null ? (l.dirty === null ? redisUnknown : t("never")) : ago(l.lastFlushAgeSeconds),
      hint: flusher ? t("lastFlushHintFlusher") : t("lastFlushHintDirect"),
      tone: flushStale ? "attention" : l.dirty === null ? "unknown" : "ok",
    },
    {
      id: "last-drift",
      label: t("lastDrift"),
      value:
        drift === null ? (
          l.dirty === null ? (
            redisUnknown
          ) : (
            t("lastDriftNever")
          )
        ) : (
          <time dateTime={drift.at} title={format.dateTime(new Date(drift.at), "dateTimeSeconds")}>
            {t("lastDriftValue", {
              when: format.relativeTime(new Date(drift.at), now),
              checked: n(drift.checked),
              drifted: n(drift.drifted),
              repaired: n(drift.repaired),
            })}
          </time>
        ),
      hint: t("lastDriftHint"),
      tone:
        drift === null ? (l.dirty === null ? "unknown" : "ok") : drift.drifted > drift.repaired ? "attention" : "ok",
    },
  ];
}
