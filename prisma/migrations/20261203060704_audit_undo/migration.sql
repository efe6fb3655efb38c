-- An undo is a change of its own (lib/audit/undo.ts); undo_of names the entry it undid.
-- AlterTable
ALTER TABLE "quota_console"."console_audit_logs" ADD COLUMN "undo_of" BIGINT;

-- CreateIndex
CREATE INDEX "console_audit_logs_undo_of_idx" ON "quota_console"."console_audit_logs"("undo_of");
