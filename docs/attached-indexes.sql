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
