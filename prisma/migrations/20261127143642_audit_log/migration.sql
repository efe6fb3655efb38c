-- CreateTable
CREATE TABLE "console_audit_logs" (
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

-- CreateIndex
CREATE INDEX "console_audit_logs_target_idx" ON "console_audit_logs"("target_type", "target_id", "created_at" DESC);

-- CreateIndex
CREATE INDEX "console_audit_logs_created_at_idx" ON "console_audit_logs"("created_at");
