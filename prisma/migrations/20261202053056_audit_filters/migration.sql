-- CreateIndex
CREATE INDEX "console_audit_logs_actor_idx" ON "quota_console"."console_audit_logs"("actor_email", "created_at" DESC);

-- CreateIndex
CREATE INDEX "console_audit_logs_action_idx" ON "quota_console"."console_audit_logs"("action", "created_at" DESC);
