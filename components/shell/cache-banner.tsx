"use client";

import { useQuery } from "@tanstack/react-query";
import { useTranslations } from "next-intl";

import { getJson } from "@/lib/api/client";
import type { Health } from "@/lib/health";

export const healthKeys = { all: ["health"] as const };

/** Says so when the console runs without (or has lost) the shared Redis cache. */
export function CacheBanner({ initial }: { initial: Health["redis"]["status"] }) {
  const t = useTranslations("Status");
  const { data } = useQuery({
    queryKey: healthKeys.all,
    // /api/health is not enveloped (it is also the load balancer's probe); 503 still carries the body.
    queryFn: async ({ signal }): Promise<Health["redis"]["status"]> => {
      const { body } = await getJson<Health>("/api/health", signal);
      if (!body) throw new Error("no health body");
      return body.redis.status;
    },
    initialData: initial,
    refetchInterval: 30_000,
  });
  if (data === "up") return null;
  return (
    <div role="status" className="border-b border-amber-200 bg-amber-50 px-4 py-2 text-center text-sm text-amber-900">
      {data === "disabled" ? t("cacheDisabled") : t("cacheDown")}
    </div>
  );
}
