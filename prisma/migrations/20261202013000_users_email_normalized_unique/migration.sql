-- One live account per normalised address: a unique index on lower(trim(email)) among rows that
-- are not soft-deleted — the gateway's e-mail identity (`userEmailLookupPredicate`). It is the
-- backstop behind the advisory lock that lib/users/signup.ts takes; the gateway's own database has
-- only the case-sensitive `users_email_unique_active`, so there the lock alone keeps it so.
-- Prisma cannot express an expression index, so it lives only here (tests/integration/schema.test.ts).
--
-- A database that already holds case/whitespace variants of one address (e.g. from concurrent
-- sign-ups before this fix) must not fail to migrate, and its accounts are shared with the gateway,
-- so nothing is merged or deleted here: the oldest account of each address (lowest id) is indexed,
-- the younger duplicates are listed by id in the index predicate and stay exempt. Every new
-- account, and every other address, is fully covered. The exempt ids are printed as a WARNING and
-- can be read back later with
--   SELECT pg_get_indexdef('qc_users_email_normalized_unique_active'::regclass);
-- (the gateway refuses to sign such addresses in at all: its GetByEmail errors on two matches).
DO $$
DECLARE
  exempt bigint[];
BEGIN
  SELECT coalesce(array_agg(id ORDER BY id), '{}') INTO exempt
  FROM (
    SELECT id, row_number() OVER (PARTITION BY lower(trim(email)) ORDER BY id) AS n
    FROM users WHERE deleted_at IS NULL
  ) ranked
  WHERE n > 1;
  IF cardinality(exempt) = 0 THEN
    CREATE UNIQUE INDEX IF NOT EXISTS qc_users_email_normalized_unique_active
      ON users ((lower(trim(email)))) WHERE deleted_at IS NULL;
  ELSE
    RAISE WARNING 'users: % account(s) share a normalised e-mail with an older account and are exempt from qc_users_email_normalized_unique_active: ids %',
      cardinality(exempt), exempt;
    EXECUTE format(
      'CREATE UNIQUE INDEX IF NOT EXISTS qc_users_email_normalized_unique_active ON users ((lower(trim(email)))) WHERE deleted_at IS NULL AND id <> ALL (%L::bigint[])',
      exempt);
  END IF;
END $$;
