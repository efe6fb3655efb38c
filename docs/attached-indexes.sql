-- Optional, attached mode (README "Attach to your sub2api"): the three partial indexes the users
-- list's sorts by spend and by "closest to a cap" use (lib/users/list-sql.ts). Standalone, the
-- console's migrations create them (prisma/standalone/gateway-subset.sql); attached, the console
-- never adds an index to the gateway's tables, and those sorts then scan user_platform_quotas —
-- the same result, slower at scale. An operator who wants them on a large gateway runs this once,
-- as the table's owner, outside a transaction (CONCURRENTLY: no lock that blocks the gateway's
-- writes). Usage increments change no indexed column, so they stay HOT-eligible; only a window
-- rollover touches these. The gateway's migrations neither need nor mind them (no name clash:
-- qc_ prefix); drop them with DROP INDEX CONCURRENTLY to roll back.
--
--   psql "$ADMIN_URL" -f docs/attached-indexes.sql
CREATE INDEX CONCURRENTLY IF NOT EXISTS qc_upq_daily_window_idx ON public.user_platform_quotas (daily_window_start)
  WHERE deleted_at IS NULL;
CREATE INDEX CONCURRENTLY IF NOT EXISTS qc_upq_weekly_window_idx ON public.user_platform_quotas (weekly_window_start)
  WHERE deleted_at IS NULL;
CREATE INDEX CONCURRENTLY IF NOT EXISTS qc_upq_monthly_window_idx ON public.user_platform_quotas (monthly_window_start)
  WHERE deleted_at IS NULL;

-- The users list at a large installation (more than 10,000 users: lib/users/list-sql.ts
-- userPageQueryAtScale, docs/users-list-scale.md §3): its sort by creation date and by e-mail and
-- its role / status / source filters read the top of one of these instead of sorting every user.
-- The gateway never updates these columns on the request path. Without them the list still works
-- and gives the same rows; at a million users a page then takes seconds.
CREATE INDEX CONCURRENTLY IF NOT EXISTS qc_users_created_idx ON public.users (created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX CONCURRENTLY IF NOT EXISTS qc_users_email_lower_idx ON public.users ((lower(email)), id)
  WHERE deleted_at IS NULL;
CREATE INDEX CONCURRENTLY IF NOT EXISTS qc_users_role_created_idx ON public.users (role, created_at, id)
  WHERE deleted_at IS NULL;
CREATE INDEX CONCURRENTLY IF NOT EXISTS qc_users_status_created_idx ON public.users (status, created_at, id)
  WHERE deleted_at IS NULL;
CREATE INDEX CONCURRENTLY IF NOT EXISTS qc_users_source_created_idx ON public.users (signup_source, created_at, id)
  WHERE deleted_at IS NULL;
-- The sort by balance has one too, left out on purpose: the gateway changes users.balance on every
-- balance-billed request, and an index on it makes each of those updates write the index as well
-- (no HOT update). Create it only if that trade is worth it on your gateway:
--   CREATE INDEX CONCURRENTLY IF NOT EXISTS qc_users_balance_idx ON public.users (balance, id) WHERE deleted_at IS NULL;
-- The search uses the gateway's own trigram indexes (its migration 065, where pg_trgm exists).
