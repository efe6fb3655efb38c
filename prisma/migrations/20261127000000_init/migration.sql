-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateTable
CREATE TABLE "users" (
    "id" BIGSERIAL NOT NULL,
    "email" VARCHAR(255) NOT NULL,
    "username" VARCHAR(100),
    "password_hash" VARCHAR(255) NOT NULL,
    "role" VARCHAR(20) NOT NULL DEFAULT 'user',
    "status" VARCHAR(20) NOT NULL DEFAULT 'active',
    "balance" DECIMAL(20,8) NOT NULL DEFAULT 0,
    "signup_source" VARCHAR(20) NOT NULL DEFAULT 'email',
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "deleted_at" TIMESTAMPTZ(6),

    CONSTRAINT "users_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "settings" (
    "id" BIGSERIAL NOT NULL,
    "key" VARCHAR(100) NOT NULL,
    "value" TEXT NOT NULL,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "settings_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "user_platform_quotas" (
    "id" BIGSERIAL NOT NULL,
    "user_id" BIGINT NOT NULL,
    "platform" VARCHAR(32) NOT NULL,
    "daily_limit_usd" DECIMAL(20,10),
    "weekly_limit_usd" DECIMAL(20,10),
    "monthly_limit_usd" DECIMAL(20,10),
    "daily_usage_usd" DECIMAL(20,10) NOT NULL DEFAULT 0,
    "weekly_usage_usd" DECIMAL(20,10) NOT NULL DEFAULT 0,
    "monthly_usage_usd" DECIMAL(20,10) NOT NULL DEFAULT 0,
    "daily_window_start" TIMESTAMPTZ(6),
    "weekly_window_start" TIMESTAMPTZ(6),
    "monthly_window_start" TIMESTAMPTZ(6),
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "deleted_at" TIMESTAMPTZ(6),

    CONSTRAINT "user_platform_quotas_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "console_sessions" (
    "id" BIGSERIAL NOT NULL,
    "token_hash" CHAR(64) NOT NULL,
    "user_id" BIGINT NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(6) NOT NULL,
    "ip" VARCHAR(64),
    "user_agent" VARCHAR(255),

    CONSTRAINT "console_sessions_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "users_email_key" ON "users"("email");

-- CreateIndex
CREATE UNIQUE INDEX "settings_key_key" ON "settings"("key");

-- CreateIndex
CREATE INDEX "userplatformquota_user_id" ON "user_platform_quotas"("user_id");

-- CreateIndex
CREATE UNIQUE INDEX "userplatformquota_user_id_platform_uq" ON "user_platform_quotas"("user_id", "platform") WHERE (deleted_at IS NULL);

-- CreateIndex
CREATE UNIQUE INDEX "console_sessions_token_hash_key" ON "console_sessions"("token_hash");

-- CreateIndex
CREATE INDEX "console_sessions_user_id_idx" ON "console_sessions"("user_id");

-- CreateIndex
CREATE INDEX "console_sessions_expires_at_idx" ON "console_sessions"("expires_at");

-- AddForeignKey
ALTER TABLE "user_platform_quotas" ADD CONSTRAINT "user_platform_quotas_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "console_sessions" ADD CONSTRAINT "console_sessions_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Platform CHECK (spec §1.1). Prisma cannot express CHECK constraints, so it lives only here. The
-- list must equal lib/billing/platforms.ts (tests/integration/schema.test.ts compares them), as a
-- platform the app allows but the CHECK rejects would make every sign-up snapshot fail.
ALTER TABLE "user_platform_quotas" ADD CONSTRAINT "user_platform_quotas_platform_check"
    CHECK (platform IN ('anthropic', 'openai', 'gemini', 'antigravity', 'grok', 'kimi', 'zhipu', 'deepseek'));
