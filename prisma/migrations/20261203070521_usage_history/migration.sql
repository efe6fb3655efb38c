-- Usage history (issue 15): hourly and daily rollups per user × platform, and the watermark of the
-- attached mode's usage_logs reader (prisma/schema.prisma, lib/billing/history.ts, docs/consistency.md §7).
-- CreateTable
CREATE TABLE "quota_console"."usage_rollup_hourly" (
    "user_id" BIGINT NOT NULL,
    "platform" VARCHAR(32) NOT NULL,
    "bucket_start" TIMESTAMPTZ(6) NOT NULL,
    "cost" DECIMAL(20,10) NOT NULL DEFAULT 0,
    "requests" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "usage_rollup_hourly_pkey" PRIMARY KEY ("user_id","bucket_start","platform")
);

-- CreateTable
CREATE TABLE "quota_console"."usage_rollup_daily" (
    "user_id" BIGINT NOT NULL,
    "platform" VARCHAR(32) NOT NULL,
    "day" DATE NOT NULL,
    "cost" DECIMAL(20,10) NOT NULL DEFAULT 0,
    "requests" BIGINT NOT NULL DEFAULT 0,

    CONSTRAINT "usage_rollup_daily_pkey" PRIMARY KEY ("user_id","day","platform")
);

-- CreateTable
CREATE TABLE "quota_console"."usage_rollup_watermarks" (
    "name" VARCHAR(64) NOT NULL,
    "last_id" BIGINT NOT NULL DEFAULT 0,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "usage_rollup_watermarks_pkey" PRIMARY KEY ("name")
);

-- CreateIndex
CREATE INDEX "usage_rollup_hourly_bucket_idx" ON "quota_console"."usage_rollup_hourly"("bucket_start", "platform");

-- CreateIndex
CREATE INDEX "usage_rollup_daily_day_idx" ON "quota_console"."usage_rollup_daily"("day", "platform", "cost", "requests");
