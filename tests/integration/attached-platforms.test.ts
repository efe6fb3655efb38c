/**
 * Attached mode with a gateway fork whose `user_platform_quotas_platform_check` allows a ninth
 * platform, "kiro" (issue 12: "A ninth platform added to the fixture's CHECK appears in the
 * settings matrix, the modal and the dashboard, and round-trips through Redis and the settings
 * JSON"). The fixture (tests/fixtures/gateway-schema.sql) on a throwaway database, migrated as
 * GATEWAY_DATABASE=attached; the registry read from the live CHECK by the compatibility check, as the
 * server does at start-up (lib/db/platforms.ts); then the app's own modules on that registry:
 *  - settings JSON: a fork gateway's byte-exact value with kiro is read with kiro, saved back byte for
 *    byte, and a save that changes kiro writes the Go bytes; the form schema accepts exactly the live
 *    platforms (kiro in, anything else out; the console's default registry refuses kiro);
 *  - Redis: the gateway's entry for kiro is built from the row, dropped by a whole-replace save with
 *    the other eight, rebuilt with the new limit, and enforced;
 *  - the modal's and the dashboard's data list kiro in the live order, and the matrix and the sign-up
 *    preview render it under its raw name;
 *  - the gateway simulator (scripts/simulate.ts) takes the database's CHECK as its platform list and
 *    its consistency check passes with kiro traffic;
 *  - a CHECK naming a platform the console cannot use as a key is refused by the start-up check.
 */
import { spawn, spawnSync } from "node:child_process";
import Redis from "ioredis";
import { NextIntlClientProvider } from "next-intl";
import pg from "pg";
import { createElement, type ReactElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { SignupPreview } from "@/components/admin-settings/signup-preview";
import { itemsText, quotaText } from "@/components/quota/format";
import { QuotaMatrix } from "@/components/quota/quota-matrix";
import { billingKeys } from "@/lib/billing/keys";
import { DEFAULT_PLATFORMS, platformRegistry } from "@/lib/billing/platforms";
import type { BillingRuntime } from "@/lib/billing/runtime";
import { checkGatewaySchema } from "@/lib/db/compat";
import { getUserQuotasView, saveUserQuotas } from "@/lib/quota/admin";
import { getMyQuotas } from "@/lib/quota/user";
import { readQuotaVersion } from "@/lib/quota/version";
import { decodeQuotaMap, encodeQuotaMap } from "@/lib/settings/codec";
import { quotaDefaultsFormSchema, quotaMapSchema, type QuotaDefaultsForm } from "@/lib/settings/quota-schema";
import { planSignupDefaults } from "@/lib/settings/signup-plan";
import { readQuotaDefaults, saveQuotaDefaults } from "@/lib/settings/store";
import en from "@/messages/en.json";

import { makeBilling } from "../support/billing-runtime";
import { createSiblingDatabase, dropDatabase, loadGatewayFixture } from "../support/gateway-fixture";
import { testEnv } from "../support/test-env";

const NINE = [...DEFAULT_PLATFORMS, "kiro"];
const WIDEN = `ALTER TABLE user_platform_quotas DROP CONSTRAINT user_platform_quotas_platform_check;
  ALTER TABLE user_platform_quotas ADD CONSTRAINT user_platform_quotas_platform_check CHECK (platform IN
    ('anthropic','openai','gemini','antigravity','grok','kimi','zhipu','deepseek','kiro'));`;

/**
 * What the fork gateway itself stores (json.Marshal of map[string]DefaultPlatformQuotaSetting: keys
 * sorted, fields daily/weekly/monthly, nil as null) — written by hand, not by the console's encoder.
 */
const GO_JSON =
  '{"anthropic":{"daily":1.5,"weekly":null,"monthly":10},"antigravity":{"daily":null,"weekly":null,"monthly":null},' +
  '"deepseek":{"daily":null,"weekly":null,"monthly":null},"gemini":{"daily":null,"weekly":null,"monthly":null},' +
  '"grok":{"daily":null,"weekly":null,"monthly":null},"kimi":{"daily":null,"weekly":null,"monthly":null},' +
  '"kiro":{"daily":2.25,"weekly":null,"monthly":0},"openai":{"daily":null,"weekly":null,"monthly":null},' +
  '"zhipu":{"daily":null,"weekly":null,"monthly":null}}';

let url: string;
let db: pg.Client;
let redis: Redis;
let rt: BillingRuntime;
let live: readonly string[];
let admin: { id: number; email: string };
let userId: number;

const setting = async (key: string) =>
  (await db.query<{ value: string }>("SELECT value FROM settings WHERE key = $1", [key])).rows[0]?.value ?? null;

type IntlProps = Parameters<typeof NextIntlClientProvider>[0];

function render(el: ReactElement): string {
  return renderToStaticMarkup(
    // children as the argument (lint); the cast because the props type requires them as a prop.
    createElement(NextIntlClientProvider, { locale: "en", messages: en, timeZone: "UTC" } as IntlProps, el),
  );
}

beforeAll(async () => {
  url = await createSiblingDatabase(testEnv().databaseUrl, "gw_kiro");
  await loadGatewayFixture(url, { searchPath: true });
  db = new pg.Client({ connectionString: url });
  await db.connect();
  await db.query(WIDEN);
  const m = spawnSync(process.execPath, ["scripts/migrate.mjs", "deploy"], {
    encoding: "utf8",
    env: { ...process.env, DATABASE_URL: url, GATEWAY_DATABASE: "attached" },
  });
  expect(m.stderr).toBe("");
  expect(m.status).toBe(0);
  // Ids far from the other suites' (they share this Redis db, and keys are by user id).
  await db.query("SELECT setval('users_id_seq', 900000000 + floor(random() * 1e8)::bigint)");
  const ids = await db.query<{ id: string; email: string }>(
    `INSERT INTO users (email, password_hash, role) VALUES ('kiro-admin@example.com', 'x', 'admin'),
       ('kiro-user@example.com', 'x', 'user') RETURNING id, email`,
  );
  admin = { id: Number(ids.rows[0].id), email: ids.rows[0].email };
  userId = Number(ids.rows[1].id);
  // The registry as the server reads it at start-up: the compatibility check's livePlatforms.
  const report = await checkGatewaySchema((t, p) => db.query(t, p));
  expect(report.ok).toBe(true);
  live = platformRegistry(report.livePlatforms!);
  rt = makeBilling({ databaseUrl: url, platforms: live });
  redis = new Redis(testEnv().redisUrl);
});

afterAll(async () => {
  if (userId) await redis?.del(...NINE.map((p) => billingKeys.userPlatformQuota(userId, p)));
  await rt?.close();
  await redis?.quit();
  await db?.end();
  if (url) await dropDatabase(testEnv().databaseUrl, url);
});

describe("attached to a fork with a ninth platform", () => {
  it("the registry is the live CHECK's list, in its order; the billing runtime resolves the same", async () => {
    expect(live).toEqual(NINE);
    expect(await rt.platforms()).toEqual(NINE);
  });

  it("the settings JSON: the gateway's bytes are read with kiro, saved back unchanged, and a kiro edit writes Go's bytes", async () => {
    await db.query(
      "INSERT INTO settings (key, value, updated_at) VALUES ('default_platform_quotas', $1, now()) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
      [GO_JSON],
    );
    const pool = rt.pool;
    const d = await readQuotaDefaults(pool, live);
    expect(d.platforms).toEqual(NINE);
    expect(d.system.kiro).toEqual({ daily: 2.25, weekly: null, monthly: 0 });
    expect(d.system.anthropic).toEqual({ daily: 1.5, weekly: null, monthly: 10 });
    // The console's own encoder writes exactly the fork gateway's bytes for this map.
    expect(encodeQuotaMap(d.system)).toBe(GO_JSON);
    // Read with the console's default registry, kiro would be dropped — the bug a static list had.
    expect(decodeQuotaMap(GO_JSON, DEFAULT_PLATFORMS).map).not.toHaveProperty("kiro");

    const form: QuotaDefaultsForm = {
      version: d.version,
      system: d.system,
      sources: Object.fromEntries(
        Object.entries(d.sources).map(([s, v]) => [s, { grantOnSignup: v.grantOnSignup, overrides: v.overrides }]),
      ) as QuotaDefaultsForm["sources"],
    };
    // Validation is exactly the live registry: kiro accepted, a tenth name refused, kiro refused by the default one.
    const schema = quotaDefaultsFormSchema(live);
    expect(schema.safeParse(form).success).toBe(true);
    const tenth = schema.safeParse({
      ...form,
      system: { ...form.system, fal: { daily: 1, weekly: null, monthly: null } },
    });
    expect(tenth.success).toBe(false);
    expect(tenth.error?.issues.map((i) => `${i.path.join(".")}:${i.message}`)).toContain("system.fal:UNKNOWN_PLATFORM");
    const strict = quotaMapSchema(DEFAULT_PLATFORMS).safeParse(form.system);
    expect(strict.error?.issues.map((i) => `${i.path.join(".")}:${i.message}`)).toContain("kiro:UNKNOWN_PLATFORM");

    // Saved back unchanged (whole replace of all keys): the gateway's value is byte-identical.
    const same = await saveQuotaDefaults(schema.parse(form), admin, { platforms: live, pool });
    expect(same.ok).toBe(true);
    expect(await setting("default_platform_quotas")).toBe(GO_JSON);
    // A kiro edit: stored as Go would store it, audited with its platform.
    const edited = schema.parse({
      ...form,
      version: same.ok ? same.data.version : "",
      system: { ...form.system, kiro: { daily: 3, weekly: 0.5, monthly: null } },
    });
    const r = await saveQuotaDefaults(edited, admin, { platforms: live, pool });
    expect(r.ok && r.changed).toBe(3);
    expect(await setting("default_platform_quotas")).toBe(
      GO_JSON.replace(
        '"kiro":{"daily":2.25,"weekly":null,"monthly":0}',
        '"kiro":{"daily":3,"weekly":0.5,"monthly":null}',
      ),
    );
    // Each source's override map carries kiro too (all 9 platforms, all null).
    expect(await setting("auth_source_default_email_platform_quotas")).toContain(
      '"kiro":{"daily":null,"weekly":null,"monthly":null}',
    );
    const audit = await db.query(
      "SELECT changes FROM console_audit_logs WHERE action = 'settings.quota_defaults.update' ORDER BY id DESC LIMIT 1",
    );
    expect(audit.rows[0].changes).toEqual(
      expect.arrayContaining([
        { key: "default_platform_quotas", platform: "kiro", window: "daily", before: 2.25, after: 3 },
      ]),
    );
    // The sign-up snapshot (and the settings page's preview) plans a kiro row from it.
    const plan = planSignupDefaults(await readQuotaDefaults(pool, live), "email");
    expect(plan.platforms).toEqual(NINE);
    expect(plan.limits.kiro).toEqual({ daily: "3", weekly: "0.5", monthly: null });
  });

  it("Redis: the gateway's kiro entry is built from the row, dropped by a save with the other eight, rebuilt with the new limit and enforced", async () => {
    const key = billingKeys.userPlatformQuota(userId, "kiro");
    await rt.repo.upsertForUser(userId, [{ platform: "kiro", limits: { daily: 5, weekly: null, monthly: null } }]);
    expect((await rt.service.checkUserPlatformQuotaEligibility(userId, "kiro")).allowed).toBe(true);
    expect(await redis.hget(key, "daily_limit")).toBe("5");
    await rt.service.checkUserPlatformQuotaEligibility(userId, "openai"); // a sentinel entry
    expect(await redis.exists(billingKeys.userPlatformQuota(userId, "openai"))).toBe(1);

    const view = await getUserQuotasView(userId, { billing: rt });
    expect(view?.platforms).toEqual(NINE);
    const res = await saveUserQuotas(
      userId,
      NINE.map((p) => ({ platform: p, limits: { daily: p === "kiro" ? 2 : null, weekly: null, monthly: null } })),
      admin,
      await readQuotaVersion(rt.pool, userId),
      { billing: rt },
    );
    expect(res.ok).toBe(true);
    // Every platform's key of the live registry is dropped, kiro included, and queued for the second pass.
    for (const p of NINE) expect(await redis.exists(billingKeys.userPlatformQuota(userId, p)), p).toBe(0);
    const queued = await db.query<{ k: string }>(
      "SELECT DISTINCT cache_key AS k FROM cache_invalidation_outbox WHERE cache_key LIKE $1 ORDER BY 1",
      [`billing:user_platform_quota:${userId}:%`],
    );
    expect(queued.rows.map((x) => x.k.split(":").at(-1)).sort()).toEqual([...NINE].sort());

    // Rebuilt from the new row on the next check; usage recorded through it; the cap enforced.
    expect((await rt.service.checkUserPlatformQuotaEligibility(userId, "kiro")).allowed).toBe(true);
    expect(await redis.hget(key, "daily_limit")).toBe("2");
    await rt.service.recordUsage({ userId, platform: "kiro", cost: 2 });
    expect(Number(await redis.hget(key, "daily_usage"))).toBe(2);
    expect(await rt.service.checkUserPlatformQuotaEligibility(userId, "kiro")).toMatchObject({ allowed: false });
  });

  it("the modal's and the dashboard's data list kiro in the live order", async () => {
    const view = (await getUserQuotasView(userId, { billing: rt }))!;
    expect(view.platforms).toEqual(NINE);
    expect(view.platform_quotas.map((q) => q.platform)).toEqual(NINE); // the save wrote all nine rows
    expect(view.platform_quotas.at(-1)).toMatchObject({ platform: "kiro", daily_limit_usd: 2, daily_usage_usd: 2 });
    // The modal's form text covers the nine platforms, kiro's cell pre-filled.
    const text = itemsText(view.platform_quotas, view.platforms);
    expect(Object.keys(text)).toEqual(NINE);
    expect(text.kiro).toEqual({ daily: "2", weekly: "", monthly: "" });

    const mine = await getMyQuotas(userId, { billing: rt });
    expect(mine.platform_quotas.map((q) => q.platform)).toEqual(NINE);
    expect(mine.platform_quotas.at(-1)).toMatchObject({ platform: "kiro", daily_limit_usd: 2, daily_usage_usd: 2 });
  });

  it("the gateway simulator's consistency check passes with kiro traffic (its platforms are this database's CHECK)", async () => {
    const run = (args: string[]) =>
      new Promise<{ code: number; out: string; err: string }>((resolve) => {
        const child = spawn("node_modules/.bin/tsx", ["scripts/simulate.ts", ...args], {
          env: { ...process.env, DATABASE_URL: url },
        });
        let out = "";
        let err = "";
        child.stdout.on("data", (d) => (out += d));
        child.stderr.on("data", (d) => (err += d));
        child.on("exit", (code) => resolve({ code: code ?? 1, out, err }));
      });
    const bad = await run(["--platforms", "kiro2"]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain(`unknown platform "kiro2" (this database allows: ${NINE.join(", ")})`);
    const r = await run([
      "--json",
      "--platforms",
      "kiro",
      "--users",
      "2",
      "--rate",
      "100",
      "--duration",
      "2",
      "--daily",
      "3",
      "--set-limits",
      "--seed",
      "9",
    ]);
    expect(r.code, r.err).toBe(0);
    const summary = JSON.parse(r.out.trim().split("\n").at(-1)!);
    expect(summary.requests).toBe(200);
    expect(summary.blocked.daily).toBeGreaterThan(0);
    expect(summary.recordedUsd).toBeGreaterThan(0);
    expect(summary.postgresDeltaUsd).toBe(summary.recordedUsd);
    expect(summary.consistent).toBe(true);
    const rows = await db.query(
      "SELECT count(*)::int AS n FROM user_platform_quotas WHERE platform = 'kiro' AND user_id IN (SELECT id FROM users WHERE email LIKE 'sim-%')",
    );
    expect(rows.rows[0].n).toBe(2);
  });

  it("the matrix (settings and modal), the sign-up preview render a kiro row under its raw name", async () => {
    const d = await readQuotaDefaults(rt.pool, live);
    const html = render(
      createElement(QuotaMatrix, {
        platforms: d.platforms,
        prefix: "system",
        text: quotaText(d.system, d.platforms),
        errors: {},
        labels: {
          headers: { platform: "Platform", daily: "Daily", weekly: "Weekly", monthly: "Monthly" },
          cell: (p, w) => `${p} ${w} limit`,
          placeholder: () => "unlimited",
        },
        onChange: () => {},
      }),
    );
    const rows = [...html.matchAll(/data-matrix-platform="([^"]+)"/g)].map((m) => m[1]);
    expect(rows).toEqual(NINE);
    expect(html).toMatch(/data-matrix-platform="kiro"[^]*?<span class="font-mono[^"]*">kiro<\/span><\/th>/);
    expect(html).toContain('value="3"'); // kiro daily, as saved above
    expect(html).toContain(">Claude<"); // a known platform keeps its display name

    const preview = render(
      createElement(SignupPreview, { source: "email", plan: planSignupDefaults(d, "email"), staleNote: false }),
    );
    expect([...preview.matchAll(/data-platform="([^"]+)"/g)].map((m) => m[1])).toEqual(NINE);
    expect(preview).toMatch(/data-platform="kiro"><th[^>]*>kiro<\/th>/);
  });
});

describe("a CHECK the registry cannot be built from", () => {
  it("a platform name that is unsafe as a key is refused by the start-up check, precisely, with no registry", async () => {
    const bad = await createSiblingDatabase(testEnv().databaseUrl, "gw_badname");
    try {
      await loadGatewayFixture(bad);
      const c = new pg.Client({ connectionString: bad });
      await c.connect();
      try {
        await c.query(WIDEN.replace("'kiro'", "'ki:ro'"));
        const report = await checkGatewaySchema((t, p) => c.query(t, p));
        expect(report.ok).toBe(false);
        expect(report.livePlatforms).toBe(null);
        expect(report.problems.map((p) => `${p.object}: ${p.problem}`)).toEqual([
          `public.user_platform_quotas.user_platform_quotas_platform_check: CHECK allows platform names the console cannot use: "ki:ro" must start with a letter and contain only letters, digits, '_' and '-'`,
        ]);
      } finally {
        await c.end();
      }
    } finally {
      await dropDatabase(testEnv().databaseUrl, bad);
    }
  });
});
