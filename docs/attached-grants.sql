-- Least-privilege grants for a console attached to the gateway's database (README "Attach to your
-- sub2api"). Run once as the database owner or a superuser, with psql variables naming the roles:
--
--   psql "$GATEWAY_DB_ADMIN_URL" -v console_role=quota_console_app -v gateway_role=sub2api \
--        -f docs/attached-grants.sql
--
-- The console's role must not be called quota_console (the schema's name): a role's default
-- search_path is "$user", public, so a role named like the schema would resolve into it. Likewise
-- the gateway's role must not be named quota_console. Tested by tests/integration/attached.test.ts
-- ("the grant script") with a fresh console role and a gateway role that owns the fixture.
\set ON_ERROR_STOP on

-- The console's own schema, owned by the console's role: its migrations (and _prisma_migrations)
-- create and alter only here. scripts/migrate.mjs's CREATE SCHEMA IF NOT EXISTS is then a no-op.
CREATE SCHEMA IF NOT EXISTS quota_console AUTHORIZATION :"console_role";

-- Unqualified names resolve to the console's tables first, then the gateway's — also for psql and
-- behind PgBouncer (which drops the `options` startup parameter the console's pools send).
ALTER ROLE :"console_role" SET search_path = quota_console, public;

-- What the console reads in public: the three tables it shares with the gateway, and the catalog
-- (always readable) for its start-up compatibility check.
GRANT USAGE ON SCHEMA public TO :"console_role";
GRANT SELECT ON public.users, public.settings, public.user_platform_quotas TO :"console_role";
-- The gateway's context it shows (lib/gateway/context.ts), read-only and only these columns: the
-- quota modal's subscription warning, the users list's groups. Without them the console simply
-- shows neither (it checks these column privileges first), nothing fails.
GRANT SELECT (user_id, status, deleted_at) ON public.user_subscriptions TO :"console_role";
GRANT SELECT (user_id, group_id) ON public.user_allowed_groups TO :"console_role";
GRANT SELECT (id, name, is_exclusive, sort_order, deleted_at) ON public.groups TO :"console_role";

-- What it writes there:
--  * user_platform_quotas — admin edits, window resets, usage recording (INSERT … ON CONFLICT,
--    UPDATE; soft delete is an UPDATE of deleted_at; never DELETE);
GRANT INSERT, UPDATE ON public.user_platform_quotas TO :"console_role";
GRANT USAGE ON SEQUENCE public.user_platform_quotas_id_seq TO :"console_role";
--  * settings — the quota keys default_platform_quotas and auth_source_default_<src>_platform_quotas
--    / _grant_on_signup (INSERT … ON CONFLICT (key) DO UPDATE). PostgreSQL cannot restrict a grant to
--    rows by key without row-level security; the console writes no other key (lib/settings).
GRANT INSERT, UPDATE ON public.settings TO :"console_role";
GRANT USAGE ON SEQUENCE public.settings_id_seq TO :"console_role";
--  * users — only status and role, when admins change them in the console (updated_at is set with
--    them). The gateway's trigger trg_users_auth_cache_invalidation fires on those columns; a
--    trigger function runs with the privileges of the role whose statement fired it (unless it is
--    SECURITY DEFINER — check yours with \df+ enqueue_user_auth_cache_invalidation), so that role
--    must read the user's API keys and insert into the gateway's invalidation outbox.
GRANT UPDATE (status, role, updated_at) ON public.users TO :"console_role";
GRANT INSERT ON public.auth_cache_invalidation_outbox TO :"console_role";
GRANT USAGE ON SEQUENCE public.auth_cache_invalidation_outbox_id_seq TO :"console_role";
GRANT SELECT (id, user_id, key, deleted_at) ON public.api_keys TO :"console_role";

-- The gateway's backups (pg_dump of the whole database, schema.md §4) must be able to read the
-- console's schema, or they fail with "permission denied". Read-only, also for tables the
-- console's migrations create later.
GRANT USAGE ON SCHEMA quota_console TO :"gateway_role";
GRANT SELECT ON ALL TABLES IN SCHEMA quota_console TO :"gateway_role";
GRANT SELECT ON ALL SEQUENCES IN SCHEMA quota_console TO :"gateway_role";
ALTER DEFAULT PRIVILEGES FOR ROLE :"console_role" IN SCHEMA quota_console GRANT SELECT ON TABLES TO :"gateway_role";
ALTER DEFAULT PRIVILEGES FOR ROLE :"console_role" IN SCHEMA quota_console GRANT SELECT ON SEQUENCES TO :"gateway_role";
