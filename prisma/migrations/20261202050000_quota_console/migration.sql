-- The console's own tables live in their own schema, quota_console (prisma/schema.prisma, README
-- "Attach to your sub2api"): never in the gateway's `public`, and under a name no gateway role
-- has, so the gateway's default search_path ("$user", public) cannot reach them. This one
-- migration replaces the console's earlier history (which created everything in `public`); every
-- name is schema-qualified because the migrating session's search_path is not ours to rely on.
--
-- Upgrade of a standalone database from that history: each console table is moved with
-- ALTER TABLE … SET SCHEMA — rows, indexes, owned sequences and grants move with it, nothing is
-- copied or lost — and loses its foreign key to public.users (no FK crosses into the gateway's
-- schema; the relations are kept by the Prisma client, relationMode = "prisma"). The old
-- `_prisma_migrations` was already moved by scripts/migrate.mjs before this ran. On a fresh or a
-- gateway database nothing is in `public` to move, and the CREATEs below build the tables.
-- Created only when missing: CREATE SCHEMA IF NOT EXISTS would still demand CREATE on the
-- database, which an attached console's role does not have (docs/attached-grants.sql creates the
-- schema for it).
DO $$
DECLARE
  t text;
BEGIN
  IF to_regnamespace('quota_console') IS NULL THEN
    CREATE SCHEMA "quota_console";
  END IF;
  FOREACH t IN ARRAY ARRAY['console_quota_versions', 'console_sessions', 'console_audit_logs',
                           'cache_invalidation_outbox', 'billing_commit_markers'] LOOP
    IF to_regclass(format('public.%I', t)) IS NOT NULL AND to_regclass(format('quota_console.%I', t)) IS NULL THEN
      EXECUTE format('ALTER TABLE public.%I SET SCHEMA quota_console', t);
      RAISE NOTICE 'moved public.% to quota_console.%', t, t;
    END IF;
  END LOOP;
  IF EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'console_sessions_user_id_fkey'
             AND conrelid = to_regclass('quota_console.console_sessions')) THEN
    ALTER TABLE quota_console.console_sessions DROP CONSTRAINT console_sessions_user_id_fkey;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'console_quota_versions_user_id_fkey'
             AND conrelid = to_regclass('quota_console.console_quota_versions')) THEN
    ALTER TABLE quota_console.console_quota_versions DROP CONSTRAINT console_quota_versions_user_id_fkey;
  END IF;
END $$;

-- CreateTable
CREATE TABLE IF NOT EXISTS "quota_console"."console_quota_versions" (
    "user_id" BIGINT NOT NULL,
    "version" BIGINT NOT NULL,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "console_quota_versions_pkey" PRIMARY KEY ("user_id")
);

-- CreateTable
CREATE TABLE IF NOT EXISTS "quota_console"."console_sessions" (
    "id" BIGSERIAL NOT NULL,
    "token_hash" CHAR(64) NOT NULL,
    "user_id" BIGINT NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(6) NOT NULL,
    "ip" VARCHAR(64),
    "user_agent" VARCHAR(255),

    CONSTRAINT "console_sessions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE IF NOT EXISTS "quota_console"."console_audit_logs" (
    "id" BIGSERIAL NOT NULL,
    "actor_id" BIGINT,
    "actor_email" VARCHAR(255) NOT NULL,
    "action" VARCHAR(64) NOT NULL,
    "target_type" VARCHAR(32) NOT NULL,
    "target_id" VARCHAR(64),
    "changes" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "console_audit_logs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE IF NOT EXISTS "quota_console"."cache_invalidation_outbox" (
    "id" BIGSERIAL NOT NULL,
    "cache_key" VARCHAR(255) NOT NULL,
    "kind" VARCHAR(16) NOT NULL DEFAULT 'del',
    "payload" JSONB,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "first_deleted_at" TIMESTAMPTZ(6),
    "next_attempt_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "last_error" VARCHAR(500),

    CONSTRAINT "cache_invalidation_outbox_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE IF NOT EXISTS "quota_console"."billing_commit_markers" (
    "id" BIGINT NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "billing_commit_markers_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX IF NOT EXISTS "console_sessions_token_hash_key" ON "quota_console"."console_sessions"("token_hash");

-- CreateIndex
CREATE INDEX IF NOT EXISTS "console_sessions_user_id_idx" ON "quota_console"."console_sessions"("user_id");

-- CreateIndex
CREATE INDEX IF NOT EXISTS "console_sessions_expires_at_idx" ON "quota_console"."console_sessions"("expires_at");

-- CreateIndex
CREATE INDEX IF NOT EXISTS "console_audit_logs_target_idx" ON "quota_console"."console_audit_logs"("target_type", "target_id", "created_at" DESC);

-- CreateIndex
CREATE INDEX IF NOT EXISTS "console_audit_logs_created_at_idx" ON "quota_console"."console_audit_logs"("created_at");

-- CreateIndex
CREATE INDEX IF NOT EXISTS "cache_invalidation_outbox_next_idx" ON "quota_console"."cache_invalidation_outbox"("next_attempt_at");

-- CreateIndex
CREATE INDEX IF NOT EXISTS "cache_invalidation_outbox_key_idx" ON "quota_console"."cache_invalidation_outbox"("cache_key");
