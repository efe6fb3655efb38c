"use client";

import { useTranslations } from "next-intl";

import { getJson } from "@/lib/api/client";
import { usePolled } from "@/lib/api/use-polled";
import type { Health } from "@/lib/health";

/** /api/health is not enveloped (it is also the load balancer's probe); 503 still carries the body. */
async function fetchCacheState({ signal }: { signal: AbortSignal }): Promise<Health["redis"]["status"]> {
  const { body } = await getJson<Health>("/api/health", signal);
  if (!body) throw new Error("no health body");
  return body.redis.status;
}

/** Says so when the console runs without (or has lost) the shared Redis cache. */
export function CacheBanner({ initial }: { initial: Health["redis"]["status"] }) {
  const t = useTranslations("Status");
  const { data } = usePolled(fetchCacheState, { initial, intervalMs: 30_000 });
  if (data === "up") return null;
  return (
    <div role="status" className="border-b border-amber-200 bg-amber-50 px-4 py-2 text-center text-sm text-amber-900">
      {data === "disabled" ? t("cacheDisabled") : t("cacheDown")}
    </div>
  );
}
