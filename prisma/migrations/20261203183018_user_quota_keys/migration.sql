-- The users list's usage sorts and quota filters at scale (docs/users-list-scale.md §3, lib/users/quota-keys.ts): the per-user keys, the usage-change markers, the refresher's cursors.
-- CreateTable
CREATE TABLE "quota_console"."user_quota_keys" (
    "user_id" BIGINT NOT NULL,
    "has_limit" BOOLEAN NOT NULL,
    "day_start" TIMESTAMPTZ(6) NOT NULL,
    "spend_day" DECIMAL(20,10) NOT NULL,
    "week_start" TIMESTAMPTZ(6) NOT NULL,
    "spend_week" DECIMAL(20,10) NOT NULL,
    "spend_month" DECIMAL(20,10) NOT NULL,
    "cap" DECIMAL NOT NULL,
    "valid_until" TIMESTAMPTZ(6) NOT NULL,
    "computed_at" TIMESTAMPTZ(6) NOT NULL,

    CONSTRAINT "user_quota_keys_pkey" PRIMARY KEY ("user_id")
);

-- CreateTable
CREATE TABLE "quota_console"."user_quota_key_changes" (
    "user_id" BIGINT NOT NULL,
    "platform" VARCHAR(32) NOT NULL,
    "marked_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "user_quota_key_changes_pkey" PRIMARY KEY ("user_id","platform")
);

-- CreateTable
CREATE TABLE "quota_console"."user_quota_keys_state" (
    "name" VARCHAR(32) NOT NULL,
    "sweep_after" BIGINT NOT NULL DEFAULT 0,
    "backfill_after" BIGINT DEFAULT 0,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "user_quota_keys_state_pkey" PRIMARY KEY ("name")
);

-- CreateIndex
CREATE INDEX "user_quota_keys_day_idx" ON "quota_console"."user_quota_keys"("day_start", "spend_day" DESC, "user_id" DESC);

-- CreateIndex
CREATE INDEX "user_quota_keys_week_idx" ON "quota_console"."user_quota_keys"("week_start", "spend_week" DESC, "user_id" DESC);

-- CreateIndex
CREATE INDEX "user_quota_keys_month_idx" ON "quota_console"."user_quota_keys"("spend_month" DESC, "user_id" DESC);

-- CreateIndex
CREATE INDEX "user_quota_keys_cap_idx" ON "quota_console"."user_quota_keys"("cap" DESC, "user_id" DESC);

-- CreateIndex
CREATE INDEX "user_quota_keys_has_limit_idx" ON "quota_console"."user_quota_keys"("user_id") WHERE (has_limit);

-- CreateIndex
CREATE INDEX "user_quota_keys_over80_idx" ON "quota_console"."user_quota_keys"("cap" DESC, "user_id" DESC) WHERE (cap >= 0.8);

-- CreateIndex
CREATE INDEX "user_quota_keys_valid_until_idx" ON "quota_console"."user_quota_keys"("valid_until");
