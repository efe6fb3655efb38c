-- CreateTable
CREATE TABLE "billing_commit_markers" (
    "id" BIGINT NOT NULL,
    "created_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "billing_commit_markers_pkey" PRIMARY KEY ("id")
);
