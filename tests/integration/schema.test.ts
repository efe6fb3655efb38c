import { spawnSync } from "node:child_process";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { DEFAULT_PLATFORMS } from "@/lib/billing/platforms";

import { rawDb } from "../support/db";
import { ATTACHED } from "../support/gateway-fixture";

let c: pg.Client;
beforeAll(async () => {
  c = await rawDb();
});
afterAll(async () => {
  await c.query("DELETE FROM users WHERE email LIKE 'schema-test-%'");
  await c.end();
});

describe("migrations", () => {
  // Guards against a schema.prisma edit without a migration (or the reverse): Prisma's own diff of
  // the migrations, replayed into a shadow database, against schema.prisma must be empty.
  it("describe exactly the database schema.prisma declares (no drift)", () => {
    const r = spawnSync(process.execPath, ["scripts/migrate.mjs", "diff"], { encoding: "utf8", env: process.env });
    expect(r.stderr).toBe("");
    expect(r.stdout.trim()).toBe("no drift");
    expect(r.status).toBe(0);
  });

  it("are recorded in quota_console._prisma_migrations like `prisma migrate deploy` does", async () => {
    const { rows } = await c.query(
      "SELECT migration_name, finished_at FROM quota_console._prisma_migrations ORDER BY migration_name",
    );
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.every((r) => r.finished_at !== null)).toBe(true);
  });
});

describe("schemas", () => {
  // The console's tables in quota_console, the gateway's in public, nothing else in either.
  it("console tables live in quota_console, only the gateway's tables in public", async () => {
    const { rows } = await c.query(
      `SELECT schemaname, tablename FROM pg_tables WHERE schemaname IN ('public', 'quota_console')
        ORDER BY schemaname, tablename`,
    );
    const by = (s: string) => rows.filter((r) => r.schemaname === s).map((r) => r.tablename);
    // Attached: the gateway's fixture has more tables in public (tests/fixtures/gateway-schema.sql).
    if (!ATTACHED) expect(by("public")).toEqual(["settings", "user_platform_quotas", "users"]);
    else expect(by("public")).toEqual(expect.arrayContaining(["settings", "user_platform_quotas", "users"]));
    expect(by("quota_console")).toEqual([
      "_prisma_migrations",
      "billing_commit_markers",
      "bulk_job_users",
      "bulk_jobs",
      "cache_invalidation_outbox",
      "console_audit_logs",
      "console_quota_versions",
      "console_sessions",
      "usage_rollup_daily",
      "usage_rollup_hourly",
      "usage_rollup_platform_daily",
      "usage_rollup_platform_today",
      "usage_rollup_watermarks",
      "user_list_counts",
      "user_quota_key_changes",
      "user_quota_keys",
      "user_quota_keys_state",
    ]);
  });

  it("no foreign key crosses from quota_console into public", async () => {
    const { rows } = await c.query(
      `SELECT conname FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'quota_console' AND con.contype = 'f'`,
    );
    expect(rows).toEqual([]);
  });

  it("the standalone layout passes the attached-mode compatibility check", async () => {
    const { checkGatewaySchema } = await import("@/lib/db/compat");
    const report = await checkGatewaySchema((text, params) => c.query(text, params));
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.livePlatforms).toEqual([...DEFAULT_PLATFORMS]);
  });
});

describe("user_platform_quotas (spec §1.1)", () => {
  it("has the gateway's columns, types, nullability and defaults", async () => {
    const { rows } = await c.query(
      `SELECT column_name, data_type, numeric_precision, numeric_scale, is_nullable, column_default, character_maximum_length
       FROM information_schema.columns WHERE table_name = 'user_platform_quotas' ORDER BY ordinal_position`,
    );
    const cols = Object.fromEntries(rows.map((r) => [r.column_name, r]));
    expect(Object.keys(cols)).toEqual([
      "id",
      "user_id",
      "platform",
      "daily_limit_usd",
      "weekly_limit_usd",
      "monthly_limit_usd",
      "daily_usage_usd",
      "weekly_usage_usd",
      "monthly_usage_usd",
      "daily_window_start",
      "weekly_window_start",
      "monthly_window_start",
      "created_at",
      "updated_at",
      "deleted_at",
    ]);
    expect(cols.id.data_type).toBe("bigint");
    expect(cols.id.column_default).toMatch(/^nextval/);
    expect(cols.user_id).toMatchObject({ data_type: "bigint", is_nullable: "NO" });
    expect(cols.platform).toMatchObject({
      data_type: "character varying",
      character_maximum_length: 32,
      is_nullable: "NO",
    });
    for (const w of ["daily", "weekly", "monthly"]) {
      expect(cols[`${w}_limit_usd`]).toMatchObject({
        data_type: "numeric",
        numeric_precision: 20,
        numeric_scale: 10,
        is_nullable: "YES",
      });
      expect(cols[`${w}_usage_usd`]).toMatchObject({
        data_type: "numeric",
        numeric_precision: 20,
        numeric_scale: 10,
        is_nullable: "NO",
        column_default: "0",
      });
      expect(cols[`${w}_window_start`]).toMatchObject({ data_type: "timestamp with time zone", is_nullable: "YES" });
    }
    expect(cols.created_at).toMatchObject({ data_type: "timestamp with time zone", is_nullable: "NO" });
    expect(cols.deleted_at.is_nullable).toBe("YES");
  });

  it("has the partial unique index, the user_id index and the cascading foreign key", async () => {
    const { rows } = await c.query(
      "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'user_platform_quotas'",
    );
    const idx = Object.fromEntries(rows.map((r) => [r.indexname, r.indexdef]));
    expect(idx.userplatformquota_user_id_platform_uq).toMatch(
      /CREATE UNIQUE INDEX .* \(user_id, platform\) WHERE \(deleted_at IS NULL\)/,
    );
    expect(idx.userplatformquota_user_id).toMatch(/\(user_id\)$/);
    // Standalone's own: the users list's spend / closest-to-a-cap sorts find current windows by these.
    // Attached, the console adds no index to the gateway's table (docs/attached-indexes.sql is the
    // operator's option): none of them may appear.
    for (const w of ["daily", "weekly", "monthly"]) {
      if (ATTACHED) expect(idx[`qc_upq_${w}_window_idx`]).toBeUndefined();
      else
        expect(idx[`qc_upq_${w}_window_idx`]).toMatch(
          new RegExp(`\\(${w}_window_start\\) WHERE \\(deleted_at IS NULL\\)$`),
        );
    }
    const fk = await c.query(
      `SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'user_platform_quotas'::regclass AND contype = 'f'`,
    );
    // The gateway's FK: ON DELETE CASCADE, default ON UPDATE (schema.md §1.3).
    expect(fk.rows[0].def).toBe("FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE");
  });

  // Guards the incident of gateway migrations 157/224: a platform the app allows but the CHECK
  // rejects makes every sign-up snapshot fail. Registry and constraint must list the same names.
  it("CHECK constraint allows exactly the platform registry", async () => {
    const { rows } = await c.query(
      `SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conname = 'user_platform_quotas_platform_check'`,
    );
    expect(rows).toHaveLength(1);
    const allowed = [...rows[0].def.matchAll(/'([^']+)'::character varying/g)].map((m) => m[1]);
    expect(allowed).toEqual([...DEFAULT_PLATFORMS]);
  });

  it("enforces one active row per (user, platform), soft-deleted duplicates allowed, unknown platforms refused", async () => {
    const u = await c.query(
      "INSERT INTO users (email, password_hash) VALUES ('schema-test-1@example.com', 'x') RETURNING id",
    );
    const uid = u.rows[0].id;
    await c.query("INSERT INTO user_platform_quotas (user_id, platform) VALUES ($1, 'openai')", [uid]);
    await expect(
      c.query("INSERT INTO user_platform_quotas (user_id, platform) VALUES ($1, 'openai')", [uid]),
    ).rejects.toMatchObject({
      code: "23505",
    });
    await c.query("UPDATE user_platform_quotas SET deleted_at = now() WHERE user_id = $1", [uid]);
    await c.query("INSERT INTO user_platform_quotas (user_id, platform) VALUES ($1, 'openai')", [uid]);
    const count = await c.query("SELECT count(*)::int AS n FROM user_platform_quotas WHERE user_id = $1", [uid]);
    expect(count.rows[0].n).toBe(2);
    await expect(
      c.query("INSERT INTO user_platform_quotas (user_id, platform) VALUES ($1, 'mistral')", [uid]),
    ).rejects.toMatchObject({
      code: "23514",
    });
    await c.query("DELETE FROM users WHERE id = $1", [uid]);
    const gone = await c.query("SELECT count(*)::int AS n FROM user_platform_quotas WHERE user_id = $1", [uid]);
    expect(gone.rows[0].n).toBe(0);
  });
});

describe("users and settings", () => {
  it("users has the gateway-compatible columns", async () => {
    const { rows } = await c.query(
      `SELECT column_name, data_type, numeric_precision, numeric_scale, is_nullable, column_default
         FROM information_schema.columns WHERE table_name = 'users'`,
    );
    const cols = Object.fromEntries(rows.map((r) => [r.column_name, r]));
    expect(cols.id.data_type).toBe("bigint");
    expect(cols.balance).toMatchObject({ data_type: "numeric", numeric_precision: 20, numeric_scale: 8 });
    for (const name of [
      "email",
      "username",
      "password_hash",
      "role",
      "status",
      "signup_source",
      "created_at",
      "updated_at",
      "deleted_at",
    ]) {
      expect(cols[name], name).toBeDefined();
    }
    // The gateway's username (schema.md §1.1, 005_schema_parity.sql), not the console's old nullable one.
    expect(cols.username).toMatchObject({ is_nullable: "NO", column_default: "''::character varying" });
  });

  it.skipIf(ATTACHED)(
    "users has the gateway's indexes plus the standalone normalised e-mail and list indexes, settings its unique constraint",
    async () => {
      const { rows } = await c.query("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'users'");
      const idx = Object.fromEntries(rows.map((r) => [r.indexname, r.indexdef]));
      expect(idx.users_email_unique_active).toMatch(/CREATE UNIQUE INDEX .* \(email\) WHERE \(deleted_at IS NULL\)$/);
      expect(idx.users_email_key).toBeUndefined();
      expect(Object.keys(idx).sort()).toEqual([
        "idx_users_deleted_at",
        // the gateway's trigram search indexes (its m065), where pg_trgm exists — as it does here
        "idx_users_email_trgm",
        "idx_users_status",
        "idx_users_username_trgm",
        // the users list's column sorts and filters at scale (docs/users-list-scale.md §3)
        "qc_users_balance_idx",
        "qc_users_created_idx",
        "qc_users_email_lower_idx",
        "qc_users_email_normalized_unique_active",
        "qc_users_role_created_idx",
        "qc_users_source_created_idx",
        "qc_users_status_created_idx",
        "users_email_unique_active",
        "users_pkey",
      ]);
      const con = await c.query("SELECT contype FROM pg_constraint WHERE conname = 'settings_key_key'");
      expect(con.rows).toEqual([{ contype: "u" }]);
    },
  );

  it("settings is key varchar(100) unique → text value", async () => {
    const { rows } = await c.query(
      "SELECT column_name, data_type, character_maximum_length FROM information_schema.columns WHERE table_name = 'settings'",
    );
    const cols = Object.fromEntries(rows.map((r) => [r.column_name, r]));
    expect(cols.key).toMatchObject({ data_type: "character varying", character_maximum_length: 100 });
    expect(cols.value.data_type).toBe("text");
    await c.query("INSERT INTO settings (key, value) VALUES ('schema_test_key', 'a')");
    await expect(c.query("INSERT INTO settings (key, value) VALUES ('schema_test_key', 'b')")).rejects.toMatchObject({
      code: "23505",
    });
    await c.query("DELETE FROM settings WHERE key = 'schema_test_key'");
  });
});
