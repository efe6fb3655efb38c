-- Bulk operations (issue 16, lib/bulk): jobs, their frozen user lists, and the per-user audit entries' link to the operation.
-- AlterTable
ALTER TABLE "quota_console"."console_audit_logs" ADD COLUMN     "bulk_of" BIGINT;

-- CreateTable
CREATE TABLE "quota_console"."bulk_jobs" (
    "id" BIGSERIAL NOT NULL,
    "kind" VARCHAR(32) NOT NULL,
    "request" JSONB NOT NULL,
    "fingerprint" VARCHAR(64) NOT NULL,
    "state" VARCHAR(16) NOT NULL,
    "total" INTEGER NOT NULL,
    "applied" INTEGER NOT NULL DEFAULT 0,
    "unchanged" INTEGER NOT NULL DEFAULT 0,
    "conflicts" INTEGER NOT NULL DEFAULT 0,
    "gone" INTEGER NOT NULL DEFAULT 0,
    "refused" INTEGER NOT NULL DEFAULT 0,
    "cursor" BIGINT NOT NULL DEFAULT 0,
    "actor_id" BIGINT NOT NULL,
    "actor_email" VARCHAR(255) NOT NULL,
    "audit_id" BIGINT,
    "undo_of" BIGINT,
    "lease_owner" VARCHAR(64),
    "lease_until" TIMESTAMPTZ(6),
    "error" VARCHAR(500),
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finished_at" TIMESTAMPTZ(6),

    CONSTRAINT "bulk_jobs_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "quota_console"."bulk_job_users" (
    "job_id" BIGINT NOT NULL,
    "user_id" BIGINT NOT NULL,
    "expected_version" VARCHAR(128),
    "target" JSONB,
    "state" SMALLINT NOT NULL DEFAULT 0,
    "audit_id" BIGINT,

    CONSTRAINT "bulk_job_users_pkey" PRIMARY KEY ("job_id","user_id")
);

-- CreateIndex
CREATE UNIQUE INDEX "bulk_jobs_undo_of_key" ON "quota_console"."bulk_jobs"("undo_of");

-- CreateIndex
CREATE INDEX "bulk_jobs_state_idx" ON "quota_console"."bulk_jobs"("state");

-- CreateIndex
CREATE INDEX "console_audit_logs_bulk_of_idx" ON "quota_console"."console_audit_logs"("bulk_of");
