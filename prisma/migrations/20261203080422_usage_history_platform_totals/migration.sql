-- Usage history: all users' totals per quota day × platform, for the admin overview (lib/billing/history.ts).
-- CreateTable
CREATE TABLE "quota_console"."usage_rollup_platform_daily" (
    "day" DATE NOT NULL,
    "platform" VARCHAR(32) NOT NULL,
    "cost" DECIMAL(20,10) NOT NULL DEFAULT 0,
    "requests" BIGINT NOT NULL DEFAULT 0,
    "users" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "usage_rollup_platform_daily_pkey" PRIMARY KEY ("day","platform")
);
