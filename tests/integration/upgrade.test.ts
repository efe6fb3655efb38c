/**
 * Upgrade of an existing standalone database (tests/fixtures/standalone-v1.sql: the console's
 * earlier history, everything in `public`) by today's `node scripts/migrate.mjs deploy`: console
 * tables move to quota_console with ALTER TABLE … SET SCHEMA, the shared tables take the
 * gateway's layout, and no row is lost.
 */
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";

import { createSiblingDatabase, dropDatabase } from "../support/gateway-fixture";
import { testEnv } from "../support/test-env";

/** The dump's 7 applied migrations stay in the history, and every migration in the tree is applied on top. */
const OLD_HISTORY = 7;
const migrationsNow = fs
  .readdirSync("prisma/migrations", { withFileTypes: true })
  .filter((d) => d.isDirectory()).length;

let url = "";
afterAll(async () => {
  if (url) await dropDatabase(testEnv().databaseUrl, url);
});

async function q(sql: string) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql)).rows;
  } finally {
    await c.end();
  }
}

describe("standalone upgrade from the public-schema layout", () => {
  it("moves console tables to quota_console, reshapes users/settings, keeps every row and the history", async () => {
    url = await createSiblingDatabase(testEnv().databaseUrl, "v1");
    await q(fs.readFileSync("tests/fixtures/standalone-v1.sql", "utf8"));
    await q(`
      INSERT INTO users (email, password_hash) VALUES ('up-a@example.com', 'h');
      INSERT INTO users (email, password_hash, username) VALUES ('up-b@example.com', 'h', 'bee');
      INSERT INTO console_sessions (token_hash, user_id, expires_at) VALUES (repeat('a', 64), 1, now() + interval '1 day');
      INSERT INTO settings (key, value) VALUES ('default_platform_quotas', '{}');
      INSERT INTO user_platform_quotas (user_id, platform, daily_limit_usd) VALUES (1, 'openai', 5);
      INSERT INTO console_audit_logs (actor_email, action, target_type, changes) VALUES ('a', 'x', 'user', '[]');
      INSERT INTO cache_invalidation_outbox (cache_key) VALUES ('billing:user_platform_quota:1:openai');
      INSERT INTO billing_commit_markers (id) VALUES (42);
      INSERT INTO console_quota_versions (user_id, version) VALUES (1, 3);`);
    const r = spawnSync(process.execPath, ["scripts/migrate.mjs", "deploy"], {
      encoding: "utf8",
      env: { ...process.env, DATABASE_URL: url, GATEWAY_DATABASE: "standalone" },
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain("moved public._prisma_migrations to quota_console");

    const tables = await q(
      "SELECT schemaname || '.' || tablename AS t FROM pg_tables WHERE schemaname IN ('public', 'quota_console') ORDER BY 1",
    );
    expect(tables.map((x) => x.t)).toEqual([
      "public.settings",
      "public.user_platform_quotas",
      "public.users",
      "quota_console._prisma_migrations",
      "quota_console.billing_commit_markers",
      "quota_console.bulk_job_users",
      "quota_console.bulk_jobs",
      "quota_console.cache_invalidation_outbox",
      "quota_console.console_audit_logs",
      "quota_console.console_quota_versions",
      "quota_console.console_sessions",
      "quota_console.usage_rollup_daily",
      "quota_console.usage_rollup_hourly",
      "quota_console.usage_rollup_platform_daily",
      "quota_console.usage_rollup_platform_today",
      "quota_console.usage_rollup_watermarks",
      "quota_console.user_list_counts",
      "quota_console.user_quota_key_changes",
      "quota_console.user_quota_keys",
      "quota_console.user_quota_keys_state",
    ]);
    // Every row is still there.
    const counts = await q(`SELECT
      (SELECT count(*) FROM public.users)::int AS users,
      (SELECT count(*) FROM quota_console.console_sessions)::int AS sessions,
      (SELECT count(*) FROM public.settings)::int AS settings,
      (SELECT count(*) FROM public.user_platform_quotas)::int AS quotas,
      (SELECT count(*) FROM quota_console.console_audit_logs)::int AS audit,
      (SELECT count(*) FROM quota_console.cache_invalidation_outbox)::int AS outbox,
      (SELECT count(*) FROM quota_console.billing_commit_markers)::int AS markers,
      (SELECT version FROM quota_console.console_quota_versions WHERE user_id = 1)::int AS version,
      (SELECT count(*) FROM quota_console._prisma_migrations)::int AS history`);
    expect(counts).toEqual([
      {
        users: 2,
        sessions: 1,
        settings: 1,
        quotas: 1,
        audit: 1,
        outbox: 1,
        markers: 1,
        version: 3,
        history: OLD_HISTORY + migrationsNow,
      },
    ]);
    // The gateway's layout: username '' instead of NULL, its e-mail index, settings' constraint.
    expect(await q("SELECT email, username FROM users ORDER BY id")).toEqual([
      { email: "up-a@example.com", username: "" },
      { email: "up-b@example.com", username: "bee" },
    ]);
    expect(
      await q(
        "SELECT to_regclass('public.users_email_key') AS old, to_regclass('public.users_email_unique_active') AS new",
      ),
    ).toEqual([{ old: null, new: "users_email_unique_active" }]);
    // Sequences moved with their tables and keep counting.
    expect(
      await q(
        "INSERT INTO quota_console.console_audit_logs (actor_email, action, target_type, changes) VALUES ('a', 'y', 'user', '[]') RETURNING id",
      ),
    ).toEqual([{ id: "2" }]);
    // No drift against schema.prisma, and a second deploy changes nothing.
    const diff = spawnSync(process.execPath, ["scripts/migrate.mjs", "diff"], {
      encoding: "utf8",
      env: { ...process.env, DATABASE_URL: url, GATEWAY_DATABASE: "standalone" },
    });
    expect(diff.stdout.trim()).toBe("no drift");
    const again = spawnSync(process.execPath, ["scripts/migrate.mjs", "deploy"], {
      encoding: "utf8",
      env: { ...process.env, DATABASE_URL: url, GATEWAY_DATABASE: "standalone" },
    });
    expect(again.stdout.trim()).toBe("migrations: up to date");
  });
});
