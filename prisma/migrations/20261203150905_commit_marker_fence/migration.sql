-- Commit markers written by commitStatus to fence a write whose outcome was unknown (one-message
-- writes: its COMMIT travels with it, so the probe must make sure it can never commit later).
-- AlterTable
ALTER TABLE "quota_console"."billing_commit_markers" ADD COLUMN "fence" BOOLEAN NOT NULL DEFAULT false;
