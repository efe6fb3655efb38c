import "server-only";

import { pgPool } from "@/lib/db/client";
import { withTransaction } from "@/lib/db/transaction";

import { DEMO_USERS } from "./demo";

/**
 * `npm run demo -- --attached`: what a running gateway would have put around the demo users in its
 * own tables (docs/gateway/schema.md), so the attached console has the gateway's context to show —
 * written only into a throwaway database laid out as the gateway's, never into a real one
 * (scripts/demo.ts refuses DATABASE_URL with --attached).
 *
 * - e-mail sign-ups get their `auth_identities` row (provider 'email', subject lower(trim(email)));
 *   synthetic OAuth addresses do not, as the gateway's ensureEmailAuthIdentity skips them;
 * - two groups (the default balance group and a subscription group), an upstream account per
 *   platform, one API key per user, an active subscription for one user (the quota modal's amber
 *   warning), an exclusive group allowance;
 * - `usage_logs` history: requests over the last 14 days with costs drawn from a fixed seed, each
 *   routed through an account of its platform;
 * - the gateway's own registration switch (`registration_enabled`), on, as a fresh install's
 *   operator would set it.
 *
 * Idempotent: a second run finds its marker group and adds nothing.
 */
export async function seedGatewayDemo(): Promise<{ created: boolean; usageLogs: number }> {
  return withTransaction(pgPool(), async (c) => {
    const marker = await c.query("SELECT 1 FROM groups WHERE name = 'demo-subscription' AND deleted_at IS NULL");
    if (marker.rowCount) return { created: false, usageLogs: 0 };

    const users = await c.query<{ id: string; email: string; signup_source: string }>(
      "SELECT id, email, signup_source FROM users WHERE email = ANY($1::text[]) AND deleted_at IS NULL ORDER BY id",
      [DEMO_USERS.map((u) => u.email)],
    );
    await c.query(
      `INSERT INTO auth_identities (user_id, provider_type, provider_key, provider_subject, verified_at, metadata)
       SELECT id, 'email', 'email', lower(trim(email)), now(), '{"source": "register"}'::jsonb
         FROM users WHERE id = ANY($1::bigint[]) AND email NOT LIKE '%-connect.invalid'
       ON CONFLICT DO NOTHING`,
      [users.rows.map((u) => u.id)],
    );

    const groups = await c.query<{ id: string; name: string }>(
      `INSERT INTO groups (name, description, platform, subscription_type, is_exclusive, daily_limit_usd, monthly_limit_usd)
       VALUES ('default', 'Balance-billed Claude', 'anthropic', 'standard', false, NULL, NULL),
              ('demo-subscription', 'Claude Max (monthly plan)', 'anthropic', 'subscription', true, 20, 400)
       ON CONFLICT DO NOTHING
       RETURNING id, name`,
    );
    const groupId = (name: string) => groups.rows.find((g) => g.name === name)?.id ?? null;
    const accounts = await c.query<{ id: string; platform: string }>(
      `INSERT INTO accounts (name, platform, type)
       SELECT 'demo-' || p, p, 'apikey'
         FROM unnest(ARRAY['anthropic','openai','gemini','antigravity','grok','kimi','zhipu','deepseek']) AS p
       RETURNING id, platform`,
    );
    const keys = await c.query<{ id: string; user_id: string }>(
      `INSERT INTO api_keys (user_id, key, name, group_id)
       SELECT id, 'sk-demo-' || md5(email), 'default', $2::bigint FROM users WHERE id = ANY($1::bigint[])
       RETURNING id, user_id`,
      [users.rows.map((u) => u.id), groupId("default")],
    );

    // One subscriber: alice, with the subscription group allowed (it is exclusive) and active now.
    const alice = users.rows.find((u) => u.email === "alice@example.com");
    if (alice && groupId("demo-subscription")) {
      await c.query("INSERT INTO user_allowed_groups (user_id, group_id) VALUES ($1, $2) ON CONFLICT DO NOTHING", [
        alice.id,
        groupId("demo-subscription"),
      ]);
      await c.query(
        `INSERT INTO user_subscriptions (user_id, group_id, starts_at, expires_at, status, notes)
         VALUES ($1, $2, now() - interval '3 days', now() + interval '27 days', 'active', 'demo')`,
        [alice.id, groupId("demo-subscription")],
      );
    }

    // usage_logs: a deterministic spread of requests over the last 14 days (mulberry32, seed 42).
    let state = 42;
    const rand = () => {
      state = (state + 0x6d2b79f5) | 0;
      let t = Math.imul(state ^ (state >>> 15), 1 | state);
      t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const models: Record<string, string> = {
      anthropic: "claude-sonnet-4-5",
      openai: "gpt-5",
      gemini: "gemini-2.5-pro",
      antigravity: "gemini-3-pro-preview",
      grok: "grok-4",
      kimi: "kimi-k2",
      zhipu: "glm-4.6",
      deepseek: "deepseek-chat",
    };
    const rows: unknown[][] = [];
    for (const key of keys.rows) {
      for (let i = 0; i < 24; i++) {
        const account = accounts.rows[Math.floor(rand() * accounts.rows.length)];
        const input = 200 + Math.floor(rand() * 8000);
        const output = 50 + Math.floor(rand() * 2000);
        const cost = Number((input * 0.000003 + output * 0.000015).toFixed(10));
        const ageMinutes = Math.floor(rand() * 14 * 24 * 60);
        rows.push([key.user_id, key.id, account.id, models[account.platform], input, output, cost, ageMinutes]);
      }
    }
    await c.query(
      `INSERT INTO usage_logs (user_id, api_key_id, account_id, request_id, model, input_tokens, output_tokens,
                               input_cost, output_cost, total_cost, actual_cost, group_id, request_type, created_at)
       SELECT r.user_id, r.key_id, r.account_id, 'demo-' || md5(r.key_id::text || '-' || r.n::text), r.model,
              r.input, r.output, r.input * 0.000003, r.cost - r.input * 0.000003, r.cost, r.cost, $2::bigint, 1,
              now() - make_interval(mins => r.age)
         FROM jsonb_to_recordset($1::jsonb) AS r(user_id bigint, key_id bigint, account_id bigint, model text,
                                                input int, output int, cost numeric, age int, n int)`,
      [
        JSON.stringify(
          rows.map(([user_id, key_id, account_id, model, input, output, cost, age], n) => ({
            ...{ user_id, key_id, account_id, model, input, output, cost, age, n },
          })),
        ),
        groupId("default"),
      ],
    );
    await c.query(
      `INSERT INTO settings (key, value, updated_at) VALUES ('registration_enabled', 'true', now())
       ON CONFLICT (key) DO NOTHING`,
    );
    return { created: true, usageLogs: rows.length };
  });
}
