"use client";

import { useQuery } from "@tanstack/react-query";
import { useTranslations } from "next-intl";

import type { Health } from "@/lib/health";

export const healthKeys = { all: ["health"] as const };

/** Says so when the console runs without (or has lost) the shared Redis cache. */
export function CacheBanner({ initial }: { initial: Health["redis"]["status"] }) {
  const t = useTranslations("Status");
  const { data } = useQuery({
    queryKey: healthKeys.all,
    queryFn: async (): Promise<Health["redis"]["status"]> => {
      const res = await fetch("/api/health", { cache: "no-store" });
      return ((await res.json()) as Health).redis.status;
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
