-- Usage history: today's all-users totals per platform, refreshed every minute by the history worker (lib/billing/history.ts).
-- CreateTable
CREATE TABLE "quota_console"."usage_rollup_platform_today" (
    "day" DATE NOT NULL,
    "platform" VARCHAR(32) NOT NULL,
    "cost" DECIMAL(20,10) NOT NULL DEFAULT 0,
    "requests" BIGINT NOT NULL DEFAULT 0,
    "users" BIGINT NOT NULL DEFAULT 0,
    "computed_at" TIMESTAMPTZ(6) NOT NULL,
    "compute_ms" INTEGER NOT NULL,

    CONSTRAINT "usage_rollup_platform_today_pkey" PRIMARY KEY ("day","platform")
);
