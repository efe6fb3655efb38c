-- AlterTable
ALTER TABLE "cache_invalidation_outbox" ADD COLUMN     "kind" VARCHAR(16) NOT NULL DEFAULT 'del',
ADD COLUMN     "payload" JSONB;
