-- CreateTable
CREATE TABLE "cache_invalidation_outbox" (
    "id" BIGSERIAL NOT NULL,
    "cache_key" VARCHAR(255) NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "first_deleted_at" TIMESTAMPTZ(6),
    "next_attempt_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "last_error" VARCHAR(500),

    CONSTRAINT "cache_invalidation_outbox_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "cache_invalidation_outbox_next_idx" ON "cache_invalidation_outbox"("next_attempt_at");

-- CreateIndex
CREATE INDEX "cache_invalidation_outbox_key_idx" ON "cache_invalidation_outbox"("cache_key");
