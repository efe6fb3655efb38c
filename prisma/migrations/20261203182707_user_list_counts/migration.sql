-- The users list's totals at scale (lib/users/list-counts.ts, docs/users-list-scale.md §3).
-- CreateTable
CREATE TABLE "quota_console"."user_list_counts" (
    "role" VARCHAR(20) NOT NULL,
    "status" VARCHAR(20) NOT NULL,
    "signup_source" VARCHAR(32) NOT NULL,
    "n" BIGINT NOT NULL,
    "counted_at" TIMESTAMPTZ(6) NOT NULL,

    CONSTRAINT "user_list_counts_pkey" PRIMARY KEY ("role","status","signup_source")
);
