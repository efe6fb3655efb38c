/**
 * The gateway's context beside the console's data (issue 12; lib/gateway/context.ts), on the
 * gateway-layout fixture (attached) and on the standalone test database, where the gateway's
 * user_subscriptions / groups / user_allowed_groups tables do not exist:
 *  - the quota modal's amber warning (spec §8.4): exactly a subscription with status 'active' that is
 *    not soft-deleted; expired, suspended, soft-deleted or none → no warning; standalone → none;
 *  - the users list's groups (schema.md §1.9 user_allowed_groups): each user's live groups, in the
 *    gateway's sort order, exclusive ones flagged, as a column of the page's ONE statement (counted);
 *    standalone: no groups column and still one statement.
 */
import { spawnSync } from "node:child_process";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import type { BillingRuntime } from "@/lib/billing/runtime";
import { QuotaClock } from "@/lib/billing/windows";
import { groupsAvailable, hasActiveSubscription } from "@/lib/gateway/context";
import { getUserQuotasView } from "@/lib/quota/admin";
import { listUsersWithQuotas, UserListParamsSchema } from "@/lib/users/list";

import { createUsers, deleteUsers, rawDb } from "../support/billing";
import { makeBilling } from "../support/billing-runtime";
import { ATTACHED, createSiblingDatabase, dropDatabase, loadGatewayFixture } from "../support/gateway-fixture";
import { testEnv } from "../support/test-env";

let url: string;
let gw: pg.Client;
let gwRt: BillingRuntime;
let standalone: pg.Client;
let saRt: BillingRuntime;
let saUsers: number[] = [];

beforeAll(async () => {
  url = await createSiblingDatabase(testEnv().databaseUrl, "gw_ctx");
  await loadGatewayFixture(url, { searchPath: true });
  gw = new pg.Client({ connectionString: url });
  await gw.connect();
  // Console tables (the modal's view reads its audit and version tables) as attached mode migrates them.
  const m = spawnSync(process.execPath, ["scripts/migrate.mjs", "deploy"], {
    encoding: "utf8",
    env: { ...process.env, DATABASE_URL: url, GATEWAY_DATABASE: "attached" },
  });
  expect(m.status, m.stderr).toBe(0);
  await gw.query("SELECT setval('users_id_seq', 800000000 + floor(random() * 1e8)::bigint)");
  gwRt = makeBilling({ databaseUrl: url, redisUrl: null });
  standalone = await rawDb();
  saUsers = await createUsers(standalone, "ctx", 1);
  saRt = makeBilling({ redisUrl: null });
});

afterAll(async () => {
  await gwRt?.close();
  await saRt?.close();
  await gw?.end();
  if (standalone) {
    await deleteUsers(standalone, saUsers);
    await standalone.end();
  }
  if (url) await dropDatabase(testEnv().databaseUrl, url);
  await standaloneAdmin(`DROP ROLE IF EXISTS "${ROLE}"`);
});

const ROLE = `${new URL(testEnv().databaseUrl).pathname.slice(1)}_ctxrole`;
async function standaloneAdmin(sql: string) {
  const c = new pg.Client({ connectionString: testEnv().databaseUrl });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

async function gatewayUser(email: string): Promise<number> {
  const { rows } = await gw.query("INSERT INTO users (email, password_hash) VALUES ($1, 'x') RETURNING id", [email]);
  return Number(rows[0].id);
}

async function group(name: string, o: { exclusive?: boolean; sort?: number; deleted?: boolean } = {}): Promise<number> {
  const { rows } = await gw.query(
    `INSERT INTO groups (name, is_exclusive, sort_order, subscription_type, deleted_at)
     VALUES ($1, $2, $3, 'subscription', CASE WHEN $4 THEN now() END) RETURNING id`,
    [name, o.exclusive ?? false, o.sort ?? 0, o.deleted ?? false],
  );
  return Number(rows[0].id);
}

async function subscribe(userId: number, groupId: number, status: string, deleted = false) {
  await gw.query(
    `INSERT INTO user_subscriptions (user_id, group_id, starts_at, expires_at, status, deleted_at)
     VALUES ($1, $2, now() - interval '1 day', now() + interval '29 days', $3, CASE WHEN $4 THEN now() END)`,
    [userId, groupId, status, deleted],
  );
}

describe("the quota modal's subscription warning (spec §8.4)", () => {
  it("shows for an active, live subscription only", async () => {
    const g1 = await group("sub-a");
    const g2 = await group("sub-b");
    const g3 = await group("sub-c");
    const active = await gatewayUser("sub-active@example.com");
    await subscribe(active, g1, "expired");
    await subscribe(active, g2, "active");
    const expiredOnly = await gatewayUser("sub-expired@example.com");
    await subscribe(expiredOnly, g1, "expired");
    await subscribe(expiredOnly, g2, "suspended");
    const deletedActive = await gatewayUser("sub-deleted@example.com");
    await subscribe(deletedActive, g3, "active", true);
    const none = await gatewayUser("sub-none@example.com");

    const warn = async (u: number) => (await getUserQuotasView(u, { billing: gwRt }))!.active_subscription;
    expect(await warn(active)).toBe(true);
    expect(await warn(expiredOnly)).toBe(false);
    expect(await warn(deletedActive)).toBe(false);
    expect(await warn(none)).toBe(false);
    // Another user's active subscription is not this user's.
    expect(await hasActiveSubscription(gw, none)).toBe(false);
  });

  // The run's own database is the standalone layout (in the attached phase it is the gateway's: the
  // fixture cases above cover that layout).
  it.skipIf(ATTACHED)("standalone (no user_subscriptions table): no warning, and the view still loads", async () => {
    expect(
      (await standalone.query("SELECT to_regclass('public.user_subscriptions') AS t")).rows[0].t,
      "the standalone test database has no gateway subscriptions table",
    ).toBe(null);
    const view = await getUserQuotasView(saUsers[0], { billing: saRt });
    expect(view).not.toBe(null);
    expect(view!.active_subscription).toBe(false);
  });
});

/** A pool that counts the statements it is given. */
function counting(pool: pg.Pool) {
  const n = { sql: 0 };
  return { n, pool: { query: (text: string, values?: unknown[]) => (n.sql++, pool.query(text, values)) } as pg.Pool };
}

describe("the users list's groups (user_allowed_groups)", () => {
  it("lists each user's live groups in the gateway's order, exclusive flagged, in the page's one statement", async () => {
    const vip = await group("grp-vip", { exclusive: true, sort: 1 });
    const basic = await group("grp-basic", { sort: 0 });
    const also = await group("grp-also", { sort: 1 });
    const gone = await group("grp-gone", { deleted: true });
    const a = await gatewayUser("grp-a@groups.test");
    const b = await gatewayUser("grp-b@groups.test");
    await gatewayUser("grp-none@groups.test");
    await gw.query(
      "INSERT INTO user_allowed_groups (user_id, group_id) VALUES ($1, $3), ($1, $4), ($1, $5), ($1, $6), ($2, $4)",
      [a, b, vip, basic, also, gone],
    );
    expect(await groupsAvailable(gw)).toBe(true);
    const { n, pool } = counting(gwRt.pool);
    const page = await listUsersWithQuotas(
      UserListParamsSchema.parse({ q: "@groups.test", sort: "email", dir: "asc" }),
      {
        pool,
        cache: null,
        clock: new QuotaClock("Asia/Shanghai"),
        groups: true,
        platforms: ["anthropic"],
        scale: "live",
      },
    );
    expect(n.sql).toBe(1); // never a query per user
    const atScale = await listUsersWithQuotas(
      UserListParamsSchema.parse({ q: "@groups.test", sort: "email", dir: "asc" }),
      {
        pool,
        cache: null,
        clock: new QuotaClock("Asia/Shanghai"),
        groups: true,
        platforms: ["anthropic"],
        scale: "keys",
      },
    );
    expect(n.sql).toBe(3); // at scale: the page and its bounded count
    expect(atScale.rows).toEqual(page.rows);
    expect(page.groups).toBe(true);
    const byEmail = Object.fromEntries(page.rows.map((u) => [u.email, u.groups]));
    expect(byEmail).toEqual({
      // sort_order, then name; the soft-deleted group is not shown
      "grp-a@groups.test": [
        { id: basic, name: "grp-basic", exclusive: false },
        { id: also, name: "grp-also", exclusive: false },
        { id: vip, name: "grp-vip", exclusive: true },
      ],
      "grp-b@groups.test": [{ id: basic, name: "grp-basic", exclusive: false }],
      "grp-none@groups.test": [],
    });
  });

  it.skipIf(ATTACHED)("standalone (no gateway group tables): no groups column, still one statement", async () => {
    expect(await groupsAvailable(standalone)).toBe(false);
    const { n, pool } = counting(saRt.pool);
    const page = await listUsersWithQuotas(UserListParamsSchema.parse({ q: "ctx-" }), {
      pool,
      cache: null,
      clock: new QuotaClock("Asia/Shanghai"),
      groups: await groupsAvailable(standalone),
      platforms: ["anthropic"],
      scale: "live",
    });
    expect(n.sql).toBe(1);
    expect(page.groups).toBe(false);
    expect(page.rows.length).toBeGreaterThan(0);
    expect(page.rows.every((u) => u.groups === null)).toBe(true);
  });
});

describe("a least-privilege console role (docs/attached-grants.sql)", () => {
  it("without the context grants: no warning, no groups, no error; with the script's grants: both work", async () => {
    await standaloneAdmin(`DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${ROLE}') THEN
      CREATE ROLE "${ROLE}" LOGIN; END IF; END $$`);
    const g = await group("priv-group", { exclusive: true });
    const u = await gatewayUser("priv-user@groups.test");
    await subscribe(u, g, "active");
    await gw.query("INSERT INTO user_allowed_groups (user_id, group_id) VALUES ($1, $2)", [u, g]);
    const asRole = new URL(url);
    asRole.username = ROLE;
    const pool = new pg.Pool({ connectionString: asRole.toString(), max: 2 });
    try {
      // Nothing granted on the gateway's context tables: the readers report nothing instead of failing.
      expect(await hasActiveSubscription(pool, u)).toBe(false);
      expect(await groupsAvailable(pool)).toBe(false);

      const grants = spawnSync(
        "psql",
        [url, "-q", "-v", `console_role=${ROLE}`, "-v", "gateway_role=postgres", "-f", "docs/attached-grants.sql"],
        // NOTICEs (the schema exists already) are not errors.
        { encoding: "utf8", env: { ...process.env, PGOPTIONS: "-c client_min_messages=warning" } },
      );
      expect(grants.stderr).toBe("");
      expect(grants.status).toBe(0);
      expect(await hasActiveSubscription(pool, u)).toBe(true);
      expect(await groupsAvailable(pool)).toBe(true);
      // The users page's one statement, groups column included, runs as that role (the live
      // statement: this role has the context grants only, not the console's own schema, which the
      // scale measure and the list at scale read).
      const page = await listUsersWithQuotas(UserListParamsSchema.parse({ q: "priv-user@groups.test" }), {
        pool,
        cache: null,
        clock: new QuotaClock("Asia/Shanghai"),
        groups: true,
        platforms: ["anthropic"],
        scale: "live",
      });
      expect(page.rows.map((r) => r.groups)).toEqual([[{ id: g, name: "priv-group", exclusive: true }]]);
    } finally {
      await pool.end();
    }
  });
});
