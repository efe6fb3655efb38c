-- CreateTable
CREATE TABLE "console_quota_versions" (
    "user_id" BIGINT NOT NULL,
    "version" BIGINT NOT NULL,
    "updated_at" TIMESTAMPTZ(6) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "console_quota_versions_pkey" PRIMARY KEY ("user_id")
);

-- AddForeignKey
ALTER TABLE "console_quota_versions" ADD CONSTRAINT "console_quota_versions_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;
