/**
 * The production build attached to a gateway fork (issue 12), in Chromium: its own server with
 * GATEWAY_DATABASE=attached on the gateway-layout fixture (tests/fixtures/gateway-schema.sql)
 * whose `user_platform_quotas_platform_check` allows a ninth platform, "kiro" (the suite's own
 * server stays standalone; the e2e harness has no attached phase of its own yet). Seeded as the
 * fork gateway would leave it: its settings JSON with kiro, a user with kiro quota rows, an active
 * subscription and two groups. Shown: kiro in the settings matrix, the platform card, the quota
 * modal and the dashboard under its raw name; edits to kiro saved through the UI land in the
 * settings JSON (Go's bytes) and the quota row, and the gateway's Redis entry for kiro is dropped;
 * the server action refuses a platform the live CHECK does not allow; the modal's subscription
 * warning (en and zh, the gateway's own strings) and the users list's groups.
 */
import Redis from "ioredis";
import pg from "pg";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { hashPassword } from "@/lib/auth/password";
import { hashSessionToken, newSessionToken, signSessionToken } from "@/lib/auth/token";
import { billingKeys } from "@/lib/billing/keys";
import { DEFAULT_PLATFORMS } from "@/lib/billing/platforms";
import { createBillingRuntime, type BillingRuntime } from "@/lib/billing/runtime";
import { encodeQuotaMap } from "@/lib/settings/codec";
import { run } from "@/scripts/lib/run";

import { builtAction, callAction } from "../support/actions";
import { launchChromium, screenshot, signIn } from "../support/browser";
import { startNextServer, type NextServer } from "../support/e2e-global-setup";
import { createSiblingDatabase, dropDatabase, loadGatewayFixture } from "../support/gateway-fixture";
import { COOKIE_NAME } from "../support/session";
import { testEnv } from "../support/test-env";

const NINE = [...DEFAULT_PLATFORMS, "kiro"];
const ADMIN = { email: "fork-admin@example.com", password: "fork-admin-password" };
const USER = { email: "fork-user@example.com", password: "fork-user-password" };
const WARN_EN =
  "This user has an active subscription. Platform quotas only apply to balance (standard) mode requests; subscription mode requests are not subject to these limits.";
const WARN_ZH = "此用户有活跃订阅，平台限额仅在余额（标准）模式下生效，订阅模式请求不受此限额约束。";

let url: string;
let db: pg.Client;
let redis: Redis;
let server: NextServer;
let browser: Browser;
let billing: BillingRuntime;
let userId: number;

const emptyMap = () => Object.fromEntries(NINE.map((p) => [p, { daily: null, weekly: null, monthly: null }]));
const setting = async (key: string) =>
  (await db.query<{ value: string }>("SELECT value FROM settings WHERE key = $1", [key])).rows[0]?.value ?? null;

async function signedIn(who: { email: string; password: string }, locale: "en" | "zh"): Promise<Page> {
  const ctx = await browser.newContext({ locale: locale === "zh" ? "zh-CN" : "en-US" });
  const page = await ctx.newPage();
  await page.goto(`${server.baseURL}/${locale}/sign-in`);
  await signIn(page, who.email, who.password);
  await page.waitForURL(`${server.baseURL}/${locale}/dashboard`);
  return page;
}

/** A session of the attached server (its console_sessions is in quota_console), as a Cookie header. */
async function cookieFor(email: string): Promise<string> {
  const token = newSessionToken();
  await db.query(
    `INSERT INTO quota_console.console_sessions (token_hash, user_id, expires_at)
     SELECT $1, id, now() + interval '1 hour' FROM users WHERE email = $2 AND deleted_at IS NULL`,
    [hashSessionToken(token), email],
  );
  return `${COOKIE_NAME}=${signSessionToken(token, testEnv().sessionSecret)}`;
}

beforeAll(async () => {
  url = await createSiblingDatabase(testEnv().databaseUrl, "gw_fork_e2e");
  await loadGatewayFixture(url, { searchPath: true });
  db = new pg.Client({ connectionString: url });
  await db.connect();
  await db.query(`ALTER TABLE user_platform_quotas DROP CONSTRAINT user_platform_quotas_platform_check;
    ALTER TABLE user_platform_quotas ADD CONSTRAINT user_platform_quotas_platform_check CHECK (platform IN
      ('anthropic','openai','gemini','antigravity','grok','kimi','zhipu','deepseek','kiro'))`);
  const env = { ...process.env, DATABASE_URL: url, GATEWAY_DATABASE: "attached" };
  expect(await run(process.execPath, ["scripts/migrate.mjs", "deploy"], env)).toBe(0);
  // Ids far from the suite's own users (they share this Redis db, keys are by user id).
  await db.query("SELECT setval('users_id_seq', 700000000 + floor(random() * 1e8)::bigint)");
  await db.query("INSERT INTO users (email, password_hash, role) VALUES ($1, $2, 'admin'), ($3, $4, 'user')", [
    ADMIN.email,
    await hashPassword(ADMIN.password),
    USER.email,
    await hashPassword(USER.password),
  ]);
  userId = Number((await db.query("SELECT id FROM users WHERE email = $1", [USER.email])).rows[0].id);
  // What the fork gateway stored: its defaults JSON with kiro, the user's rows (kiro capped), a
  // subscription and two groups (one exclusive).
  const system = {
    ...emptyMap(),
    anthropic: { daily: 1.5, weekly: null, monthly: 10 },
    kiro: { daily: 2.25, weekly: null, monthly: 0 },
  };
  await db.query("INSERT INTO settings (key, value) VALUES ('default_platform_quotas', $1)", [encodeQuotaMap(system)]);
  await db.query(
    `INSERT INTO user_platform_quotas (user_id, platform, daily_limit_usd, created_at, updated_at)
     SELECT $1, p, CASE WHEN p = 'kiro' THEN 5 END, now(), now() FROM unnest($2::text[]) p`,
    [userId, NINE],
  );
  const g = await db.query<{ id: string }>(
    `INSERT INTO groups (name, is_exclusive, sort_order, subscription_type) VALUES
       ('fork-vip', true, 1, 'subscription'), ('fork-basic', false, 0, 'standard') RETURNING id`,
  );
  await db.query(
    `INSERT INTO user_subscriptions (user_id, group_id, starts_at, expires_at, status)
     VALUES ($1, $2, now() - interval '1 day', now() + interval '29 days', 'active')`,
    [userId, g.rows[0].id],
  );
  await db.query("INSERT INTO user_allowed_groups (user_id, group_id) VALUES ($1, $2), ($1, $3)", [
    userId,
    g.rows[0].id,
    g.rows[1].id,
  ]);

  const serverEnv: NodeJS.ProcessEnv = { ...env, QC_REPAIRER: "off" };
  for (const k of ["ADMIN_EMAIL", "ADMIN_PASSWORD", "REGISTRATION_ENABLED"]) delete serverEnv[k];
  server = await startNextServer(serverEnv, { capture: true });
  browser = await launchChromium();
  redis = new Redis(testEnv().redisUrl);
  billing = createBillingRuntime({ databaseUrl: url, redisUrl: testEnv().redisUrl, platforms: NINE, repair: false });
});

afterAll(async () => {
  if (userId) await redis?.del(...NINE.map((p) => billingKeys.userPlatformQuota(userId, p)));
  await browser?.close();
  await server?.stop();
  await billing?.close();
  await redis?.quit();
  await db?.end();
  if (url) await dropDatabase(testEnv().databaseUrl, url);
});

describe("attached to a fork with a ninth platform", () => {
  it("the start-up check reports the attached layout as compatible, and the live registry (/api/health, the log)", async () => {
    const health = await (await fetch(`${server.baseURL}/api/health`)).json();
    expect(health.gateway).toMatchObject({ mode: "attached", schemaCheck: "ok", platforms: NINE });
    expect(server.output()).toContain(`platform registry (live CHECK): ${NINE.join(", ")}`);
  });

  it("settings: kiro is a row of the matrix and of the platform card; a kiro edit saved in the browser is Go's JSON", async () => {
    const page = await signedIn(ADMIN, "en");
    await page.goto(`${server.baseURL}/en/admin/settings`);
    const rows = await page
      .locator('section[aria-labelledby="system-quotas"] tr[data-matrix-platform]')
      .evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-matrix-platform")));
    expect(rows).toEqual(NINE);
    const kiroRow = page.locator('section[aria-labelledby="system-quotas"] tr[data-matrix-platform="kiro"]');
    expect((await kiroRow.locator("th").textContent())?.trim()).toBe("kiro"); // raw name, no label
    expect(await page.locator('[data-cell="system.kiro.daily"]').inputValue()).toBe("2.25");
    expect(await page.locator('[data-cell="system.kiro.monthly"]').inputValue()).toBe("0");
    expect(await page.locator('li[data-platform="kiro"]').textContent()).toBe("kirokiro");
    // The sign-up preview plans a kiro row too.
    const email = page.locator('details[data-source="email"]');
    await email.locator("summary").click();
    expect(await email.locator('[data-preview="email"] tr[data-platform="kiro"] th').textContent()).toBe("kiro");

    await page.locator('[data-cell="system.kiro.daily"]').fill("3");
    await page.locator('[data-cell="system.kiro.weekly"]').fill("0.5");
    await page.getByRole("button", { name: "Save", exact: true }).click();
    await expect.poll(() => page.getByTestId("toast").textContent()).toBe("Quota defaults saved.");
    await screenshot(page, "attached-fork-settings");
    const expected = encodeQuotaMap({
      ...emptyMap(),
      anthropic: { daily: 1.5, weekly: null, monthly: 10 },
      kiro: { daily: 3, weekly: 0.5, monthly: 0 },
    });
    expect(await setting("default_platform_quotas")).toBe(expected);
    expect(expected).toContain('"kiro":{"daily":3,"weekly":0.5,"monthly":0}');
    await page.context().close();
  });

  it("the save action refuses a platform the live CHECK does not allow (kiro itself is saved through the modal below)", async () => {
    const cookie = await cookieFor(ADMIN.email);
    const action = builtAction("saveUserPlatformQuotasAction");
    const view = await (
      await fetch(`${server.baseURL}/api/v1/admin/users/${userId}/platform-quotas`, { headers: { Cookie: cookie } })
    ).json();
    expect(view.data.platforms).toEqual(NINE);
    const bad = await callAction(
      server.baseURL,
      action,
      [{ userId, version: view.data.version, quotas: { fal: { daily: 1, weekly: null, monthly: null } } }],
      cookie,
    );
    expect(bad.body).toContain('"quotas.fal":["UNKNOWN_PLATFORM"]');
  });

  it("users list and modal: the user's groups, the subscription warning, kiro's row; a save drops the gateway's kiro entry", async () => {
    const kiroKey = billingKeys.userPlatformQuota(userId, "kiro");
    // The gateway has built its entry for kiro (limit 5).
    expect((await billing.service.checkUserPlatformQuotaEligibility(userId, "kiro")).allowed).toBe(true);
    expect(await redis.hget(kiroKey, "daily_limit")).toBe("5");

    const page = await signedIn(ADMIN, "en");
    page.on("dialog", (d) => void d.accept());
    await page.goto(`${server.baseURL}/en/admin/users`);
    const row = page.locator(`tr[data-testid="user-row-${userId}"]`);
    expect(
      await row
        .locator("[data-testid=groups-cell] li")
        .evaluateAll((lis) => lis.map((li) => li.getAttribute("data-group"))),
    ).toEqual(["fork-basic", "fork-vip"]);
    expect(await row.locator('[data-group="fork-vip"]').textContent()).toBe("fork-vipexclusive");
    expect(await row.getByTestId("quota-cell").textContent()).toContain("kiro");

    await row.getByRole("button", { name: `Platform quotas of ${USER.email}` }).click();
    const dialog = page.getByRole("dialog");
    await expect.poll(() => dialog.getByTestId("subscription-warning").textContent()).toBe(WARN_EN);
    const modalRows = await dialog
      .locator("tr[data-matrix-platform]")
      .evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-matrix-platform")));
    expect(modalRows).toEqual(NINE);
    expect(await dialog.locator('[data-cell="quotas.kiro.daily"]').inputValue()).toBe("5");
    await dialog.locator('[data-cell="quotas.kiro.daily"]').fill("7");
    await dialog.getByRole("button", { name: "Save" }).click();
    await expect.poll(() => page.getByTestId("toast").textContent()).toBe("Platform quotas updated");
    await screenshot(page, "attached-fork-users");
    const stored = await db.query(
      "SELECT daily_limit_usd::text AS dl FROM user_platform_quotas WHERE user_id = $1 AND platform = 'kiro' AND deleted_at IS NULL",
      [userId],
    );
    expect(stored.rows).toEqual([{ dl: "7.0000000000" }]);
    // Dropped for the gateway, rebuilt from the new row on its next check.
    await expect.poll(() => redis.exists(kiroKey)).toBe(0);
    expect((await billing.service.checkUserPlatformQuotaEligibility(userId, "kiro")).allowed).toBe(true);
    expect(await redis.hget(kiroKey, "daily_limit")).toBe("7");
    await page.context().close();

    // zh: the gateway's own wording of the warning.
    const zh = await signedIn(ADMIN, "zh");
    await zh.goto(`${server.baseURL}/zh/admin/users`);
    await zh
      .locator(`tr[data-testid="user-row-${userId}"]`)
      .getByRole("button", { name: `${USER.email} 的平台限额` })
      .click();
    await expect.poll(() => zh.getByRole("dialog").getByTestId("subscription-warning").textContent()).toBe(WARN_ZH);
    await zh.context().close();
  });

  it("the dashboard: the user's kiro card under its raw name, with its usage", async () => {
    await billing.service.recordUsage({ userId, platform: "kiro", cost: 1.25 });
    const page = await signedIn(USER, "en");
    const card = page.locator('[data-quota-card="kiro"]');
    await expect.poll(() => card.locator("h3").textContent()).toBe("kiro");
    await expect.poll(() => card.textContent()).toContain("$1.25");
    await expect.poll(() => card.textContent()).toContain("$7.00");
    await screenshot(page, "attached-fork-dashboard");
    await page.context().close();
  });
});
