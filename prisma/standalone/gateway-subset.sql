-- Standalone mode only (GATEWAY_DATABASE=standalone, the default): the gateway's tables the console
-- uses, as a faithful subset of the gateway's own layout in `public` — the same table, column,
-- constraint and index names, types, nullability and defaults as docs/gateway/schema.md
-- §1.1–1.3 (upstream 67380eaf) for every column that exists here; the gateway's other columns are
-- left out. In attached mode this file never runs: the gateway owns these tables, and
-- lib/db/compat.ts checks them instead.
--
-- scripts/migrate.mjs runs it on every `deploy`, in one transaction, after the console's Prisma
-- migrations. It is idempotent and changes nothing on a database already in this shape; a database
-- created by the console's earlier migrations (nullable username, plain unique email index,
-- CURRENT_TIMESTAMP defaults, a unique index instead of settings' unique constraint, ON UPDATE
-- CASCADE on the quota FK) is brought to the gateway's layout with no row lost.
DO $$
BEGIN
  -- §1.1 users (m001, 005, 108): the columns the console reads and writes.
  CREATE TABLE IF NOT EXISTS public.users (
    id            bigserial     NOT NULL,
    email         varchar(255)  NOT NULL,
    username      varchar(100)  NOT NULL DEFAULT '',
    password_hash varchar(255)  NOT NULL,
    role          varchar(20)   NOT NULL DEFAULT 'user',
    status        varchar(20)   NOT NULL DEFAULT 'active',
    balance       numeric(20,8) NOT NULL DEFAULT 0,
    signup_source varchar(20)   NOT NULL DEFAULT 'email',
    totp_enabled  boolean       NOT NULL DEFAULT false,
    created_at    timestamptz   NOT NULL DEFAULT now(),
    updated_at    timestamptz   NOT NULL DEFAULT now(),
    deleted_at    timestamptz,
    CONSTRAINT users_pkey PRIMARY KEY (id)
  );
  -- Earlier console layouts had no totp_enabled (m044; sign-in reads it, lib/auth/credentials.ts).
  ALTER TABLE public.users ADD COLUMN IF NOT EXISTS totp_enabled boolean NOT NULL DEFAULT false;
  -- Earlier console layout: username was nullable with no default.
  -- Guarded, so a database already in shape sees no ALTER (and no lock) on a re-deploy.
  IF EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'users'
             AND ((column_name = 'username' AND (is_nullable = 'YES' OR column_default IS DISTINCT FROM $d$''::character varying$d$))
               OR (column_name IN ('created_at', 'updated_at') AND column_default IS DISTINCT FROM 'now()'))) THEN
    UPDATE public.users SET username = '' WHERE username IS NULL;
    ALTER TABLE public.users ALTER COLUMN username SET DEFAULT '', ALTER COLUMN username SET NOT NULL,
      ALTER COLUMN created_at SET DEFAULT now(), ALTER COLUMN updated_at SET DEFAULT now();
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'users_signup_source_check'
                 AND conrelid = 'public.users'::regclass) THEN
    -- m108 widened by 135/136. NOT VALID first, so a legacy row outside the list cannot fail the upgrade.
    ALTER TABLE public.users ADD CONSTRAINT users_signup_source_check CHECK (signup_source IN
      ('email','linuxdo','wechat','oidc','github','google','dingtalk')) NOT VALID;
    BEGIN
      ALTER TABLE public.users VALIDATE CONSTRAINT users_signup_source_check;
    EXCEPTION WHEN check_violation THEN
      RAISE WARNING 'users: some signup_source values are outside the gateway''s list; users_signup_source_check stays NOT VALID';
    END;
  END IF;
  -- m016: the only e-mail uniqueness the gateway has — partial and case-sensitive. The earlier
  -- console's plain unique index is stricter, so building this one cannot fail.
  CREATE UNIQUE INDEX IF NOT EXISTS users_email_unique_active ON public.users (email) WHERE deleted_at IS NULL;
  IF to_regclass('public.users_email_key') IS NOT NULL THEN
    DROP INDEX public.users_email_key;
  END IF;
  CREATE INDEX IF NOT EXISTS idx_users_status ON public.users (status);          -- m001
  CREATE INDEX IF NOT EXISTS idx_users_deleted_at ON public.users (deleted_at);  -- m001

  -- §1.2 settings (005, 015, 097).
  CREATE TABLE IF NOT EXISTS public.settings (
    id         bigserial    NOT NULL,
    key        varchar(100) NOT NULL,
    value      text         NOT NULL,
    updated_at timestamptz  NOT NULL DEFAULT now(),
    CONSTRAINT settings_pkey PRIMARY KEY (id),
    CONSTRAINT settings_key_key UNIQUE (key)
  );
  IF EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'settings'
             AND column_name = 'updated_at' AND column_default IS DISTINCT FROM 'now()') THEN
    ALTER TABLE public.settings ALTER COLUMN updated_at SET DEFAULT now();
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'settings_key_key'
                 AND conrelid = 'public.settings'::regclass) THEN
    -- Earlier console layout: a unique index of that name; the gateway has a unique constraint.
    ALTER TABLE public.settings ADD CONSTRAINT settings_key_key UNIQUE USING INDEX settings_key_key;
  END IF;

  -- §1.3 user_platform_quotas (142, 157, 224): all of the gateway's columns.
  CREATE TABLE IF NOT EXISTS public.user_platform_quotas (
    id                   bigserial      NOT NULL,
    user_id              bigint         NOT NULL,
    platform             varchar(32)    NOT NULL,
    daily_limit_usd      numeric(20,10),
    weekly_limit_usd     numeric(20,10),
    monthly_limit_usd    numeric(20,10),
    daily_usage_usd      numeric(20,10) NOT NULL DEFAULT 0,
    weekly_usage_usd     numeric(20,10) NOT NULL DEFAULT 0,
    monthly_usage_usd    numeric(20,10) NOT NULL DEFAULT 0,
    daily_window_start   timestamptz,
    weekly_window_start  timestamptz,
    monthly_window_start timestamptz,
    created_at           timestamptz    NOT NULL DEFAULT now(),
    updated_at           timestamptz    NOT NULL DEFAULT now(),
    deleted_at           timestamptz,
    CONSTRAINT user_platform_quotas_pkey PRIMARY KEY (id),
    -- The list must equal lib/billing/platforms.ts (tests/integration/schema.test.ts): a platform the
    -- app allows but the CHECK rejects would make every sign-up snapshot fail.
    CONSTRAINT user_platform_quotas_platform_check CHECK (platform IN
      ('anthropic','openai','gemini','antigravity','grok','kimi','zhipu','deepseek'))
  );
  IF EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'user_platform_quotas'
             AND column_name IN ('created_at', 'updated_at') AND column_default IS DISTINCT FROM 'now()') THEN
    ALTER TABLE public.user_platform_quotas
      ALTER COLUMN created_at SET DEFAULT now(), ALTER COLUMN updated_at SET DEFAULT now();
  END IF;
  -- The gateway's FK is ON DELETE CASCADE with the default ON UPDATE (NO ACTION); the earlier
  -- console layout had ON UPDATE CASCADE.
  IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'user_platform_quotas_user_id_fkey'
                 AND conrelid = 'public.user_platform_quotas'::regclass AND confupdtype = 'a' AND confdeltype = 'c') THEN
    ALTER TABLE public.user_platform_quotas DROP CONSTRAINT IF EXISTS user_platform_quotas_user_id_fkey;
    ALTER TABLE public.user_platform_quotas ADD CONSTRAINT user_platform_quotas_user_id_fkey
      FOREIGN KEY (user_id) REFERENCES public.users(id) ON DELETE CASCADE;
  END IF;
  CREATE UNIQUE INDEX IF NOT EXISTS userplatformquota_user_id_platform_uq ON public.user_platform_quotas (user_id, platform)
    WHERE deleted_at IS NULL;
  CREATE INDEX IF NOT EXISTS userplatformquota_user_id ON public.user_platform_quotas (user_id);
END $$;

-- Standalone only, the console's addition: one live account per normalised address
-- (lower(trim(email)), the gateway's userEmailLookupPredicate), the backstop behind the advisory
-- lock lib/users/signup.ts takes. The gateway layout allows it (an extra index breaks none of the
-- gateway's statements), but attached mode does not create it: there the gateway's own rule holds
-- — the advisory lock on users:normalized-email:<…> and a re-check, as the gateway's
-- userRepository.create does; the gateway's index stays case-sensitive (schema.md §2.1).
-- A database that already holds case/whitespace variants of one address must not fail to migrate
-- and its accounts are shared with the gateway, so nothing is merged or deleted: the oldest
-- account of each address is indexed, younger duplicates are exempt by id (printed as a WARNING;
-- SELECT pg_get_indexdef('qc_users_email_normalized_unique_active'::regclass) reads them back).
DO $$
DECLARE
  exempt bigint[];
BEGIN
  IF to_regclass('public.qc_users_email_normalized_unique_active') IS NOT NULL THEN
    RETURN;
  END IF;
  SELECT coalesce(array_agg(id ORDER BY id), '{}') INTO exempt
  FROM (
    SELECT id, row_number() OVER (PARTITION BY lower(trim(email)) ORDER BY id) AS n
    FROM public.users WHERE deleted_at IS NULL
  ) ranked
  WHERE n > 1;
  IF cardinality(exempt) = 0 THEN
    CREATE UNIQUE INDEX qc_users_email_normalized_unique_active
      ON public.users ((lower(trim(email)))) WHERE deleted_at IS NULL;
  ELSE
    RAISE WARNING 'users: % account(s) share a normalised e-mail with an older account and are exempt from qc_users_email_normalized_unique_active: ids %',
      cardinality(exempt), exempt;
    EXECUTE format(
      'CREATE UNIQUE INDEX qc_users_email_normalized_unique_active ON public.users ((lower(trim(email)))) WHERE deleted_at IS NULL AND id <> ALL (%L::bigint[])',
      exempt);
  END IF;
END $$;

-- Standalone only, the console's addition: the users list's sorts by spend and by "closest to a
-- cap" (lib/users/list-sql.ts) aggregate only the rows whose window is current, found through
-- these (one range probe per window instead of reading every row). Attached mode does not create
-- them — the gateway's table gets no index from the console there — and the same statement then
-- scans the table (slower at scale, same result). Usage increments change no indexed column, so
-- they stay HOT-eligible; only a window rollover touches these.
CREATE INDEX IF NOT EXISTS qc_upq_daily_window_idx ON public.user_platform_quotas (daily_window_start)
  WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS qc_upq_weekly_window_idx ON public.user_platform_quotas (weekly_window_start)
  WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS qc_upq_monthly_window_idx ON public.user_platform_quotas (monthly_window_start)
  WHERE deleted_at IS NULL;

-- Standalone only, the console's addition: the users list's column sorts and its filters with the
-- default sort (lib/users/list-sql.ts) read the top of one of these instead of sorting every user
-- (docs/users-list-scale.md §3: a page at a million users). Attached, docs/attached-indexes.sql
-- offers the same to the operator; the console adds no index to the gateway's tables.
CREATE INDEX IF NOT EXISTS qc_users_created_idx ON public.users (created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS qc_users_email_lower_idx ON public.users ((lower(email)), id) WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS qc_users_balance_idx ON public.users (balance, id) WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS qc_users_role_created_idx ON public.users (role, created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS qc_users_status_created_idx ON public.users (status, created_at, id) WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS qc_users_source_created_idx ON public.users (signup_source, created_at, id)
  WHERE deleted_at IS NULL;
-- The search ("contains", ILIKE '%q%') through the gateway's own trigram indexes (its m065, same
-- names and definitions), where pg_trgm can be installed; without it the search scans, as the
-- gateway's own admin search does there.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm') THEN
    BEGIN
      CREATE EXTENSION IF NOT EXISTS pg_trgm;
    EXCEPTION WHEN OTHERS THEN
      RAISE WARNING 'pg_trgm could not be installed (%): the users search scans', SQLERRM;
    END;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
    CREATE INDEX IF NOT EXISTS idx_users_email_trgm ON public.users USING gin (email gin_trgm_ops);
    CREATE INDEX IF NOT EXISTS idx_users_username_trgm ON public.users USING gin (username gin_trgm_ops);
  END IF;
END $$;
