import { spawn } from "node:child_process";
import type { Client } from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { undoAuditEntry } from "@/lib/audit/undo";
import { billingKeys } from "@/lib/billing/keys";
import { decodeQuotaEntry } from "@/lib/billing/quota-cache";
import type { BillingRuntime } from "@/lib/billing/runtime";
import {
  bulkJobExceptions,
  bulkJobProgress,
  BulkWorker,
  cancelBulkJob,
  previewBulk,
  runBulkBatch,
  startBulkJob,
  startBulkUndo,
  type BulkDeps,
} from "@/lib/bulk/engine";
import { NO_BULK_FILTER, type BulkFilter, type BulkRequest, type CellChange } from "@/lib/bulk/types";
import { saveUserQuotas } from "@/lib/quota/admin";
import { readQuotaVersion } from "@/lib/quota/version";
import { encodeQuotaMap } from "@/lib/settings/codec";
import { emptyQuotaMap } from "@/lib/settings/quota-schema";
import { prng } from "@/scripts/lib/prng";
import { checkLedger, monthlySnapshot, quiesce, runTraffic } from "@/scripts/lib/traffic";

import { rawDb } from "../support/billing";
import { makeBilling } from "../support/billing-runtime";

/**
 * Bulk operations (issue 16) on real PostgreSQL and Redis, in whichever layout the run uses
 * (standalone, or attached to the gateway's schema with GATEWAY_DATABASE=attached): every operation
 * on a filtered set changes exactly the cells its preview listed, is audited (one bulk entry, one
 * entry per user linked to it) and its undo puts every cell back; a stale preview is refused; a
 * worker process killed between batches is resumed by another without applying a user twice or
 * skipping one; in flusher mode with traffic running the ledger's invariants hold.
 */
let c: Client;
const runtimes: BillingRuntime[] = [];
const created: number[] = [];
const admin = { id: 1, email: "bulk-admin@example.com" };
const L = (daily: number | null, weekly: number | null = null, monthly: number | null = null) => ({
  daily,
  weekly,
  monthly,
});

function rt(flusher = false): BillingRuntime {
  const b = makeBilling({ config: { flusherEnabled: flusher } });
  runtimes.push(b);
  return b;
}

beforeAll(async () => {
  c = await rawDb();
});
afterAll(async () => {
  if (created.length) {
    await c.query("DELETE FROM user_platform_quotas WHERE user_id = ANY($1::bigint[])", [created]);
    await c.query("DELETE FROM users WHERE id = ANY($1::bigint[])", [created]);
  }
  await c.query("DELETE FROM cache_invalidation_outbox");
  for (const r of runtimes) await r.close();
  await c.end();
});

let tagN = 0;
/** n users whose e-mails carry a tag of their own (the filter's search), with sources as given. */
async function users(n: number, sources: string[] = ["email"]): Promise<{ tag: string; ids: number[] }> {
  const tag = `bulkt${Date.now().toString(36)}${tagN++}`;
  const { rows } = await c.query<{ id: string }>(
    `INSERT INTO users (email, password_hash, signup_source)
     SELECT $1 || '-' || g || '@bulk.test', 'x', ($3::text[])[1 + (g - 1) % array_length($3::text[], 1)]
     FROM generate_series(1, $2) g ORDER BY g RETURNING id`,
    [tag, n, sources],
  );
  const ids = rows.map((r) => Number(r.id)).sort((a, b) => a - b);
  created.push(...ids);
  return { tag, ids };
}

const F = (f: Partial<BulkFilter>): BulkFilter => ({ ...NO_BULK_FILTER, ...f });

/** Every limit cell of these users' active rows, read as text: `user:platform:window` → value ("-" = unlimited). */
async function limitCells(ids: number[]): Promise<Map<string, string>> {
  const { rows } = await c.query<{
    user_id: string;
    platform: string;
    d: string | null;
    w: string | null;
    m: string | null;
  }>(
    `SELECT user_id, platform, daily_limit_usd::text AS d, weekly_limit_usd::text AS w, monthly_limit_usd::text AS m
     FROM user_platform_quotas WHERE user_id = ANY($1::bigint[]) AND deleted_at IS NULL`,
    [ids],
  );
  const out = new Map<string, string>();
  for (const r of rows) {
    out.set(`${r.user_id}:${r.platform}:daily`, r.d ?? "-");
    out.set(`${r.user_id}:${r.platform}:weekly`, r.w ?? "-");
    out.set(`${r.user_id}:${r.platform}:monthly`, r.m ?? "-");
  }
  return out;
}

/** The cells that differ between two snapshots, as `key → after` (a cell of a removed or new unlimited row reads "-"). */
function diff(before: Map<string, string>, after: Map<string, string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const k of new Set([...before.keys(), ...after.keys()])) {
    const b = before.get(k) ?? "-";
    const a = after.get(k) ?? "-";
    if (a !== b) out.set(k, a);
  }
  return out;
}

/** A preview's cells as the same `key → after` map (numbers compared as numeric values). */
function previewCells(sample: CellChange[]): Map<string, string> {
  return new Map(
    sample.map((s) => [`${s.userId}:${s.platform}:${s.window}`, s.after === null ? "-" : String(s.after)]),
  );
}

/** numeric text from PostgreSQL ("7.0000000000") to the shortest number text ("7") */
const norm = (m: Map<string, string>) => new Map([...m].map(([k, v]) => [k, v === "-" ? v : String(Number(v))]));

async function runAll(deps: BulkDeps, batchSize = 2): Promise<number> {
  return new BulkWorker(deps, { batchSize }).runOnce();
}

async function applyAndCheck(deps: BulkDeps, req: BulkRequest, ids: number[], beforeRun?: () => Promise<unknown>) {
  const preview = await previewBulk(req, deps);
  expect(preview.cellsChanged).toBeLessThanOrEqual(50); // the sample is then the whole list
  const before = await limitCells(ids);
  const start = await startBulkJob(req, preview.fingerprint, admin, deps);
  if (!start.ok) throw new Error(start.code);
  await beforeRun?.();
  await runAll(deps);
  const after = await limitCells(ids);
  expect(norm(diff(before, after))).toEqual(previewCells(preview.sample));
  const progress = await bulkJobProgress(deps.billing.pool, start.jobId);
  expect(progress).toMatchObject({ state: "done", applied: preview.usersChanged, done: progress!.total });
  return { preview, before, after, jobId: start.jobId };
}

async function auditOf(jobId: number) {
  const bulk = await c.query<{ id: string; action: string }>(
    "SELECT id, action FROM console_audit_logs WHERE target_type = 'bulk' AND target_id = $1",
    [String(jobId)],
  );
  expect(bulk.rows).toHaveLength(1);
  const per = await c.query<{ target_id: string; action: string; undo_of: string | null; changes: unknown[] }>(
    "SELECT target_id, action, undo_of, changes FROM console_audit_logs WHERE bulk_of = $1 ORDER BY target_id::bigint",
    [bulk.rows[0].id],
  );
  return { bulk: { id: Number(bulk.rows[0].id), action: bulk.rows[0].action }, perUser: per.rows };
}

async function undoAndCheck(deps: BulkDeps, jobId: number, ids: number[], before: Map<string, string>) {
  const u = await startBulkUndo(jobId, admin, deps);
  if (!u.ok) throw new Error(u.code);
  await runAll(deps);
  expect(await limitCells(ids)).toEqual(before);
  const undoAudit = await auditOf(u.jobId);
  const original = await auditOf(jobId);
  expect(undoAudit.perUser.map((e) => e.target_id)).toEqual(original.perUser.map((e) => e.target_id));
  const ofOriginal = await c.query<{ undo_of: string }>(
    "SELECT undo_of FROM console_audit_logs WHERE target_type = 'bulk' AND target_id = $1",
    [String(u.jobId)],
  );
  expect(Number(ofOriginal.rows[0].undo_of)).toBe(original.bulk.id);
  return u.jobId;
}

describe("bulk operations", () => {
  it("set limits on a filtered set: exactly the previewed cells, one bulk entry with per-user entries, cache work for the changed keys, undo restores", async () => {
    const deps = { billing: rt() };
    const { tag, ids } = await users(6, ["github", "email"]);
    await deps.billing.repo.upsertForUser(ids[0], [{ platform: "openai", limits: L(5, 50) }]);
    await deps.billing.repo.upsertForUser(ids[1], [{ platform: "openai", limits: L(5) }]);
    const versions: string[] = [];
    for (const id of ids) versions.push(await readQuotaVersion(c, id));
    const req: BulkRequest = {
      selection: { kind: "filter", filter: F({ q: tag, source: "github" }) },
      operation: {
        kind: "set_limits",
        platforms: ["openai", "anthropic"],
        windows: ["daily"],
        value: { mode: "value", usd: 7 },
      },
    };
    const { preview, before, jobId } = await applyAndCheck(deps, req, ids);
    // github users are ids[0], ids[2], ids[4]: openai 5 → 7 for ids[0], new rows elsewhere.
    expect(preview).toMatchObject({ users: 3, usersChanged: 3, cellsChanged: 6, problems: [] });
    expect(preview.sample.find((s) => s.userId === ids[0] && s.platform === "openai")).toMatchObject({
      before: 5,
      after: 7,
    });
    const audit = await auditOf(jobId);
    expect(audit.bulk.action).toBe("bulk.apply");
    expect(audit.perUser.map((e) => Number(e.target_id))).toEqual([ids[0], ids[2], ids[4]]);
    expect(audit.perUser.every((e) => e.action === "user.platform_quotas.update")).toBe(true);
    // The versions moved for the changed users only (an open modal's save now conflicts).
    const now: string[] = [];
    for (const id of ids) now.push(await readQuotaVersion(c, id));
    expect(ids.map((_, i) => now[i] !== versions[i])).toEqual([true, false, true, false, true, false]);
    // Redis work was queued for exactly the changed keys.
    const keys = await c.query<{ cache_key: string }>(
      "SELECT DISTINCT cache_key FROM cache_invalidation_outbox WHERE cache_key = ANY($1::text[]) ORDER BY 1",
      [ids.flatMap((id) => ["openai", "anthropic", "gemini"].map((p) => `billing:user_platform_quota:${id}:${p}`))],
    );
    expect(keys.rows.map((r) => r.cache_key)).toEqual(
      [ids[0], ids[2], ids[4]]
        .flatMap((id) => [`billing:user_platform_quota:${id}:anthropic`, `billing:user_platform_quota:${id}:openai`])
        .sort(),
    );
    await undoAndCheck(deps, jobId, ids, before);
    expect(await startBulkUndo(jobId, admin, deps)).toEqual({ ok: false, code: "ALREADY_UNDONE" });
  });

  it("the audit log's undo of a bulk entry undoes the whole operation", async () => {
    const deps = { billing: rt() };
    const { tag, ids } = await users(3);
    const req: BulkRequest = {
      selection: { kind: "filter", filter: F({ q: tag }) },
      operation: { kind: "set_limits", platforms: ["kimi"], windows: ["monthly"], value: { mode: "value", usd: 3 } },
    };
    const before = await limitCells(ids);
    const { jobId } = await applyAndCheck(deps, req, ids);
    const { bulk } = await auditOf(jobId);
    expect(await undoAuditEntry(bulk.id, admin, deps, c)).toEqual({ ok: true, action: "bulk.apply", changed: 0 });
    await runAll(deps);
    expect(await limitCells(ids)).toEqual(before);
    expect(await undoAuditEntry(bulk.id, admin, deps, c)).toEqual({ ok: false, code: "UNDO_NOTHING" });
  });

  it("scale, clear, apply defaults (system replace, sign-up source fill-missing) and set_values: exactly the previewed cells, undo restores", async () => {
    const deps = { billing: rt() };
    const saved = await c.query<{ key: string; value: string }>(
      "SELECT key, value FROM settings WHERE key IN ('default_platform_quotas', 'auth_source_default_github_platform_quotas', 'auth_source_default_github_grant_on_signup')",
    );
    try {
      const set = (key: string, value: string) =>
        c.query(
          "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
          [key, value],
        );
      await set("default_platform_quotas", encodeQuotaMap({ openai: L(3, 20, 80), anthropic: L(1) }));
      await set("auth_source_default_github_platform_quotas", encodeQuotaMap({ openai: L(9) }));
      await set("auth_source_default_github_grant_on_signup", "true");

      const { tag, ids } = await users(4, ["github", "email"]);
      for (const id of ids.slice(0, 3))
        await deps.billing.repo.upsertForUser(id, [{ platform: "openai", limits: L(2, 0, null) }]);
      await deps.billing.repo.upsertForUser(ids[3], [{ platform: "openai", limits: L(9e9) }]);
      const sel = { kind: "filter" as const, filter: F({ q: tag }) };
      const cases: BulkRequest[] = [
        {
          selection: sel,
          operation: { kind: "scale", factor: 1.5, platforms: ["openai"], windows: ["daily", "weekly", "monthly"] },
        },
        { selection: sel, operation: { kind: "clear_limits", platforms: ["openai"] } },
        {
          selection: sel,
          operation: { kind: "apply_defaults", from: "system", mode: "replace", platforms: ["openai", "anthropic"] },
        },
        {
          selection: sel,
          operation: {
            kind: "apply_defaults",
            from: "signup_source",
            mode: "fill_missing",
            platforms: ["anthropic", "gemini"],
          },
        },
        {
          selection: { kind: "ids", userIds: [ids[1], ids[2]] },
          operation: { kind: "apply_defaults", from: "signup_source", mode: "replace", platforms: ["openai"] },
        },
        {
          operation: {
            kind: "set_values",
            rows: [
              {
                userId: ids[0],
                quotas: { ...emptyQuotaMap(await deps.billing.platforms()), openai: L(4, 5, 6), gemini: L(0) },
              },
              { userId: ids[2], quotas: { ...emptyQuotaMap(await deps.billing.platforms()), grok: L(1, 2, 3) } },
            ],
          },
        },
      ];
      const expected = [
        // scale: 2 → 3 for three users; the 9e9 one is refused (9e9 × 1.5 ≥ 10^10); 0 and null stay
        { usersChanged: 3, cellsChanged: 3, problems: [{ userId: ids[3], code: "SCALED_TOO_LARGE" }] },
        // clear: daily 2 and weekly 0 → unlimited for three users, 9e9 → unlimited for the fourth
        { usersChanged: 4, cellsChanged: 7, problems: [] },
        // system replace: openai → 3/20/80 (3 cells each), a new anthropic row with daily 1 (1 cell each)
        { usersChanged: 4, cellsChanged: 16 },
        // fill missing: anthropic (no row) gets the system's daily 1; gemini's defaults are unlimited: no row
        { usersChanged: 4, cellsChanged: 4 },
        // replace from the sign-up source: email → the system's 3/20/80, github → its override daily 9 over 20/80
        { usersChanged: 2, cellsChanged: 6 },
        // whole replace: ids[0] openai 4/5/6 + a gemini row disabled daily; ids[2] openai unlimited + grok 1/2/3
        { usersChanged: 2, cellsChanged: 9 },
      ];
      for (const [i, req] of cases.entries()) {
        // A defaults save after the start changes nothing: the job applies the defaults its preview planned with.
        const { preview, before, jobId } = await applyAndCheck(
          deps,
          req,
          ids,
          i === 2
            ? () => set("default_platform_quotas", encodeQuotaMap({ openai: L(99), anthropic: L(98) }))
            : undefined,
        );
        if (i === 2) await set("default_platform_quotas", encodeQuotaMap({ openai: L(3, 20, 80), anthropic: L(1) }));
        expect(preview, `case ${i} ${req.operation.kind}`).toMatchObject(expected[i]);
        if (i === 3)
          expect(new Set(preview.sample.map((s) => `${s.platform}:${s.window}:${s.after}`))).toEqual(
            new Set(["anthropic:daily:1"]),
          );
        if (i === 4)
          expect(preview.sample.filter((s) => s.window === "daily").map((s) => [s.userId, s.after])).toEqual([
            [ids[1], 3],
            [ids[2], 9],
          ]);
        const audit = await auditOf(jobId);
        expect(audit.perUser).toHaveLength(preview.usersChanged);
        await undoAndCheck(deps, jobId, ids, before);
      }
    } finally {
      await c.query(
        "DELETE FROM settings WHERE key IN ('default_platform_quotas', 'auth_source_default_github_platform_quotas', 'auth_source_default_github_grant_on_signup')",
      );
      for (const r of saved.rows) await c.query("INSERT INTO settings (key, value) VALUES ($1, $2)", [r.key, r.value]);
    }
  });

  it("reset usage keeps the calendar anchors (daily and weekly at the current calendar start, monthly at now), is audited as resets and is not undoable", async () => {
    const deps = { billing: rt() };
    const { ids } = await users(3);
    const long = Date.now() - 3 * 86_400_000;
    for (const id of ids) {
      await deps.billing.repo.upsertForUser(id, [{ platform: "openai", limits: L(100, 100, 100) }]);
      await deps.billing.repo.incrementUsageWithReset(id, "openai", 2.5, Date.now());
    }
    await c.query("UPDATE user_platform_quotas SET monthly_window_start = $2 WHERE user_id = ANY($1::bigint[])", [
      ids,
      new Date(long),
    ]);
    const t0 = Date.now();
    const req: BulkRequest = {
      selection: { kind: "ids", userIds: [ids[0], ids[1]] },
      operation: { kind: "reset_usage", platforms: ["openai", "anthropic"], windows: ["daily", "monthly"] },
    };
    const preview = await previewBulk(req, deps);
    expect(preview).toMatchObject({ users: 2, usersChanged: 2, cellsChanged: 4 });
    expect(preview.sample.map((s) => [s.userId, s.window, s.before, s.after])).toEqual([
      [ids[0], "daily", 2.5, 0],
      [ids[0], "monthly", 2.5, 0],
      [ids[1], "daily", 2.5, 0],
      [ids[1], "monthly", 2.5, 0],
    ]);
    const start = await startBulkJob(req, preview.fingerprint, admin, deps);
    if (!start.ok) throw new Error(start.code);
    await runAll(deps);
    const t1 = Date.now();
    const { rows } = await c.query<{ user_id: string; du: string; wu: string; mu: string; ds: Date; ms: Date }>(
      `SELECT user_id, daily_usage_usd::text AS du, weekly_usage_usd::text AS wu, monthly_usage_usd::text AS mu,
              daily_window_start AS ds, monthly_window_start AS ms
       FROM user_platform_quotas WHERE user_id = ANY($1::bigint[]) AND deleted_at IS NULL ORDER BY user_id`,
      [ids],
    );
    const day = deps.billing.clock.startOfDay(t1);
    for (const r of rows.slice(0, 2)) {
      expect([Number(r.du), Number(r.wu), Number(r.mu)]).toEqual([0, 2.5, 0]);
      expect(r.ds.getTime()).toBe(day);
      expect(r.ms.getTime()).toBeGreaterThanOrEqual(t0);
      expect(r.ms.getTime()).toBeLessThanOrEqual(t1);
    }
    expect([Number(rows[2].du), Number(rows[2].mu)]).toEqual([2.5, 2.5]); // not selected
    const audit = await auditOf(start.jobId);
    expect(audit.perUser.map((e) => e.action)).toEqual(["user.platform_quotas.reset", "user.platform_quotas.reset"]);
    expect(audit.perUser[0].changes).toEqual([
      { key: "usage", platform: "openai", window: "daily", before: 2.5, after: 0 },
      { key: "usage", platform: "openai", window: "monthly", before: 2.5, after: 0 },
    ]);
    expect(await startBulkUndo(start.jobId, admin, deps)).toEqual({ ok: false, code: "UNDO_UNSUPPORTED" });
  });

  it("a stale preview is refused and writes nothing: a selected user's limits changed, or the filter selects another user now", async () => {
    const deps = { billing: rt() };
    const { tag, ids } = await users(3);
    const req: BulkRequest = {
      selection: { kind: "filter", filter: F({ q: tag }) },
      operation: { kind: "set_limits", platforms: ["openai"], windows: ["monthly"], value: { mode: "disabled" } },
    };
    const jobs = async () => (await c.query("SELECT count(*)::int AS n FROM bulk_jobs")).rows[0].n;
    const audits = async () => (await c.query("SELECT count(*)::int AS n FROM console_audit_logs")).rows[0].n;
    const p1 = await previewBulk(req, deps);
    const r = await saveUserQuotas(
      ids[1],
      [{ platform: "openai", limits: L(1) }],
      admin,
      await readQuotaVersion(c, ids[1]),
      deps,
    );
    expect(r.ok).toBe(true);
    const [j0, a0, cells0] = [await jobs(), await audits(), await limitCells(ids)];
    expect(await startBulkJob(req, p1.fingerprint, admin, deps)).toEqual({ ok: false, code: "STALE_PREVIEW" });
    const p2 = await previewBulk(req, deps);
    await c
      .query("INSERT INTO users (email, password_hash) VALUES ($1, 'x') RETURNING id", [`${tag}-new@bulk.test`])
      .then((x) => created.push(Number(x.rows[0].id)));
    expect(await startBulkJob(req, p2.fingerprint, admin, deps)).toEqual({ ok: false, code: "STALE_PREVIEW" });
    expect([await jobs(), await audits(), await limitCells(ids)]).toEqual([j0, a0, cells0]);
  });

  it("a user changed after the start is skipped as a conflict; an undo leaves a cell changed since alone and reports it; cancel stops after a batch", async () => {
    const deps = { billing: rt() };
    const { tag, ids } = await users(4);
    const req: BulkRequest = {
      selection: { kind: "filter", filter: F({ q: tag }) },
      operation: { kind: "set_limits", platforms: ["openai"], windows: ["daily"], value: { mode: "value", usd: 11 } },
    };
    const p = await previewBulk(req, deps);
    const s = await startBulkJob(req, p.fingerprint, admin, deps);
    if (!s.ok) throw new Error(s.code);
    const w = new BulkWorker(deps, { batchSize: 1 });
    expect(await w.claim()).toBe(s.jobId);
    expect((await runBulkBatch(s.jobId, w.owner, { ...deps, batchSize: 1 })).outcome).toBe("more");
    // After the start, ids[2] is changed in the modal: the job must not overwrite it.
    await saveUserQuotas(
      ids[2],
      [{ platform: "openai", limits: L(1) }],
      admin,
      await readQuotaVersion(c, ids[2]),
      deps,
    );
    await w.runOnce();
    expect(await bulkJobProgress(deps.billing.pool, s.jobId)).toMatchObject({
      state: "done",
      applied: 3,
      conflicts: 1,
    });
    expect(await bulkJobExceptions(deps.billing.pool, s.jobId)).toEqual([
      { userId: ids[2], email: `${tag}-3@bulk.test`, outcome: "conflict" },
    ]);
    const cells = await limitCells(ids);
    expect([0, 1, 2, 3].map((i) => cells.get(`${ids[i]}:openai:daily`))).toEqual(
      ["11", "11", "1", "11"].map((v) => `${v}.0000000000`),
    );
    // ids[1] changes again before the undo: the undo restores ids[0] and ids[3] only.
    await saveUserQuotas(
      ids[1],
      [{ platform: "openai", limits: L(12) }],
      admin,
      await readQuotaVersion(c, ids[1]),
      deps,
    );
    const u = await startBulkUndo(s.jobId, admin, deps);
    if (!u.ok) throw new Error(u.code);
    await new BulkWorker(deps, { batchSize: 2 }).runOnce();
    expect(await bulkJobProgress(deps.billing.pool, u.jobId)).toMatchObject({
      state: "done",
      applied: 2,
      conflicts: 1,
    });
    expect((await bulkJobExceptions(deps.billing.pool, u.jobId)).map((x) => x.userId)).toEqual([ids[1]]);
    const back = await limitCells(ids);
    expect([0, 1, 2, 3].map((i) => back.get(`${ids[i]}:openai:daily`))).toEqual([
      undefined,
      "12.0000000000",
      "1.0000000000",
      undefined,
    ]);

    // Cancel: after the first batch nothing more is applied, and the part applied can be undone.
    const more = await users(3);
    const req2: BulkRequest = {
      selection: { kind: "filter", filter: F({ q: more.tag }) },
      operation: { kind: "set_limits", platforms: ["openai"], windows: ["daily"], value: { mode: "value", usd: 2 } },
    };
    const s2 = await startBulkJob(req2, (await previewBulk(req2, deps)).fingerprint, admin, deps);
    if (!s2.ok) throw new Error(s2.code);
    const w2 = new BulkWorker(deps, { batchSize: 1 });
    await w2.claim();
    await runBulkBatch(s2.jobId, w2.owner, { ...deps, batchSize: 1 });
    expect(await cancelBulkJob(deps.billing.pool, s2.jobId)).toBe(true);
    await w2.runOnce();
    expect(await bulkJobProgress(deps.billing.pool, s2.jobId)).toMatchObject({ state: "cancelled", applied: 1 });
    expect((await limitCells(more.ids)).size).toBe(3); // one user's row of three windows
  });

  it("a worker process killed between batches: the next worker resumes at the cursor — every user applied exactly once", async () => {
    const deps = { billing: rt() };
    const { tag, ids } = await users(40);
    const req: BulkRequest = {
      selection: { kind: "filter", filter: F({ q: tag }) },
      operation: {
        kind: "set_limits",
        platforms: ["openai", "gemini"],
        windows: ["weekly"],
        value: { mode: "value", usd: 4.25 },
      },
    };
    const p = await previewBulk(req, deps);
    const s = await startBulkJob(req, p.fingerprint, admin, deps);
    if (!s.ok) throw new Error(s.code);
    const worker = (pauseMs: number) =>
      // node with tsx's loader (not the tsx CLI, which would put a second process in between): one pid to SIGKILL
      spawn(process.execPath, ["--import", "tsx", "tests/support/bulk-worker.ts"], {
        env: { ...process.env, BULK_BATCH_SIZE: "5", BULK_LEASE_MS: "1500", BULK_PAUSE_MS: String(pauseMs) },
      });
    const first = worker(2000);
    let out = "";
    await new Promise<void>((resolve, reject) => {
      first.stdout.on("data", (d) => {
        out += d;
        if ((out.match(/^batch /gm) ?? []).length >= 3) resolve();
      });
      first.stderr.on("data", (d) => (out += d));
      first.on("exit", (code) => reject(new Error(`worker exited ${code} before the kill:\n${out}`)));
    });
    first.kill("SIGKILL"); // in the 2 s pause after its third batch
    await new Promise((r) => first.once("exit", r));
    const mid = await bulkJobProgress(deps.billing.pool, s.jobId);
    expect(mid).toMatchObject({ state: "running", applied: 15 });
    // The dead worker's lease runs out (1.5 s); the next one takes over.
    await new Promise((r) => setTimeout(r, 1600));
    const second = worker(0);
    let out2 = "";
    second.stdout.on("data", (d) => (out2 += d));
    second.stderr.on("data", (d) => (out2 += d));
    const code = await new Promise((r) => second.once("exit", r));
    expect(code, out2).toBe(0);
    expect(await bulkJobProgress(deps.billing.pool, s.jobId)).toMatchObject({
      state: "done",
      applied: 40,
      conflicts: 0,
    });
    const audit = await auditOf(s.jobId);
    expect(audit.perUser.map((e) => Number(e.target_id))).toEqual(ids); // each user once, none missing
    const v = await c.query<{ version: string }>(
      "SELECT version::text FROM console_quota_versions WHERE user_id = ANY($1::bigint[]) ORDER BY user_id",
      [ids],
    );
    expect(v.rows.map((r) => r.version)).toEqual(ids.map(() => "1"));
    const cells = await limitCells(ids);
    expect(
      ids.every(
        (id) =>
          cells.get(`${id}:openai:weekly`) === "4.2500000000" && cells.get(`${id}:gemini:weekly`) === "4.2500000000",
      ),
    ).toBe(true);
  });

  it("flusher mode with traffic running: a bulk scale and its undo lose no usage (the ledger's invariants hold) and reach Redis in place", async () => {
    const billing = rt(true);
    const deps = { billing };
    const { tag, ids } = await users(8);
    const platforms = ["openai", "anthropic"];
    for (const id of ids)
      await billing.repo.upsertForUser(
        id,
        platforms.map((platform) => ({ platform, limits: L(5, 20, 50) })),
      );
    const keys = ids.flatMap((userId) => platforms.map((platform) => ({ userId, platform })));
    const before = await monthlySnapshot(billing, keys);
    const flusher = billing.flusher({ intervalMs: 300 });
    flusher.start();
    const req: BulkRequest = {
      selection: { kind: "filter", filter: F({ q: tag }) },
      operation: { kind: "scale", factor: 2, platforms, windows: ["daily", "weekly", "monthly"] },
    };
    let bulk: Promise<void> | null = null;
    const scaled: string[] = [];
    const costMax = 0.05;
    const res = await runTraffic(billing, {
      users: ids,
      platforms,
      rate: 150,
      durationSeconds: 6,
      costMin: 0.001,
      costMax,
      random: prng(16),
      onStart: () => {
        bulk = (async () => {
          await new Promise((r) => setTimeout(r, 1000));
          const p = await previewBulk(req, deps);
          const s = await startBulkJob(req, p.fingerprint, admin, deps);
          if (!s.ok) throw new Error(s.code);
          await new BulkWorker(deps, { batchSize: 3 }).runOnce();
          // In place in Redis (flusher mode: never a DEL): every live entry has the doubled limits.
          for (const k of keys) {
            const e = decodeQuotaEntry(
              await billing.redis!.hgetall(billingKeys.userPlatformQuota(k.userId, k.platform)),
            );
            if (e && e.schemaVersion === 1) scaled.push(`${e.dailyLimit}/${e.weeklyLimit}/${e.monthlyLimit}`);
          }
          await new Promise((r) => setTimeout(r, 1500));
          const u = await startBulkUndo(s.jobId, admin, deps);
          if (!u.ok) throw new Error(u.code);
          await new BulkWorker(deps, { batchSize: 3 }).runOnce();
        })();
      },
    });
    await bulk;
    await flusher.stop();
    const settled = await quiesce(billing, null);
    expect(settled.ok, JSON.stringify(settled.left)).toBe(true);
    const report = await checkLedger(billing, before, res, costMax);
    expect(res.requests).toBeGreaterThan(0);
    expect({ lost: report.lost, doubled: report.doubled, drift: report.drift }, JSON.stringify(report)).toEqual({
      lost: [],
      doubled: [],
      drift: [],
    });
    // Undo put every limit back; the undo entries' conflicts are none (traffic moves usage, never limits).
    const cells = await limitCells(ids);
    expect(new Set(cells.values())).toEqual(new Set(["5.0000000000", "20.0000000000", "50.0000000000"]));
    expect(scaled.length).toBeGreaterThan(0);
    expect(new Set(scaled)).toEqual(new Set(["10/40/100"]));
  }, 60_000);
});
