import { createHash, randomUUID } from "node:crypto";
import type pg from "pg";

import { AUTH_SOURCES, type AuthSource } from "@/lib/auth-sources";
import { resetWork, saveWork } from "@/lib/billing/admin-changes";
import { formatGoFloat } from "@/lib/billing/encoding";
import { enqueueOutbox, markFirstPass, markFirstPassFailed, type OutboxItem } from "@/lib/billing/outbox";
import { rollback, withTransaction } from "@/lib/billing/pg";
import { QUOTA_COLUMNS, toRow, type QuotaRow, type RawRow } from "@/lib/billing/quota-repo";
import type { BillingRuntime } from "@/lib/billing/runtime";
import type { QuotaWindow } from "@/lib/billing/vocabulary";
import { decodeQuotaMap } from "@/lib/settings/codec";
import { QUOTA_DEFAULT_KEYS, sourceGrantKey, sourceQuotasKey, SYSTEM_QUOTAS_KEY } from "@/lib/settings/keys";
import type { QuotaMap } from "@/lib/settings/quota-schema";
import { planSignupDefaults, type SignupDefaultsInput } from "@/lib/settings/signup-plan";
import { refreshQuotaKeys } from "@/lib/users/quota-keys";

import { bulkFilterSql, SqlParams } from "./filter";
import { planUndo, planUser, type PlanChange, type PlanContext, type PlanUser, type UserPlan } from "./plan";
import type {
  BulkJobProgress,
  BulkJobState,
  BulkOperation,
  BulkOperationKind,
  BulkPreview,
  BulkRequest,
  CellChange,
} from "./types";

/**
 * The bulk engine (issue 16): dry run → fingerprint → a job applied in bounded batches.
 *
 *   preview        scans the selection in user-id order (keyset chunks), plans every user
 *                  (lib/bulk/plan.ts) and hashes the request, the selected users and each one's
 *                  quota version (lib/quota/version.ts) into the fingerprint.
 *   start          scans again in ONE transaction, refuses STALE_PREVIEW unless the fingerprint is
 *                  the same, and freezes the users that change (with the version the preview saw)
 *                  into bulk_job_users, with the job row and its "bulk.apply" audit entry.
 *   batch          (BulkWorker) one transaction: the job row locked and its lease checked, the next
 *                  users after the cursor locked (id order, then their quota rows in (user, platform)
 *                  order — the order of the flusher and the batched usage writes, so no deadlock),
 *                  each user skipped as a conflict when its version moved since the preview, the
 *                  rows written, versions bumped, one audit entry per user (bulk_of = the job's
 *                  entry), the outbox rows of the changed keys (lib/billing/admin-changes.ts: DEL in
 *                  direct mode, in place in flusher mode), and the cursor and counters moved. After
 *                  the commit the first pass of the Redis work; the repairer does the second.
 *                  A crash loses at most the uncommitted batch; the next worker continues at the
 *                  cursor: nothing applied twice, nobody skipped.
 *   undo           a job of its own over the users the operation applied, each restored only where
 *                  every cell still holds what the operation wrote (else a reported conflict).
 *
 * No `server-only`: the benchmark and the crash test's worker process run it under plain tsx.
 */
export type BulkDeps = { billing: BillingRuntime; now?: number };
export type BulkActor = { id: number; email: string };

/** Users per keyset chunk of a scan (preview, start). */
export const SCAN_CHUNK = 500;
/** Users per apply batch (one transaction each). */
export const DEFAULT_BATCH_SIZE = 500;
export const SAMPLE_CELLS = 50;
export const MAX_PROBLEMS = 100;
export const DEFAULT_LEASE_MS = 30_000;

type Queryable = Pick<pg.PoolClient, "query">;

const STATE = { pending: 0, applied: 1, unchanged: 2, conflict: 3, gone: 4, refused: 5 } as const;

// ---- loading users ---------------------------------------------------------------------------

type Loaded = { user: PlanUser; version: string; rows: QuotaRow[] };

/**
 * The users of `ids` that exist (not deleted), with their quota version (the same token as
 * readQuotaVersion, computed for all of them in one statement) and active rows; `lock` takes the
 * users' row locks and then their quota rows' (in (user, platform) order) — inside a transaction.
 */
async function loadUsers(client: Queryable, ids: number[], lock: boolean): Promise<Map<number, Loaded>> {
  if (ids.length === 0) return new Map();
  const users = await client.query<{ id: string; email: string; signup_source: string }>(
    `SELECT id, email, signup_source FROM users WHERE id = ANY($1::bigint[]) AND deleted_at IS NULL ORDER BY id${
      lock ? " FOR UPDATE" : ""
    }`,
    [ids],
  );
  const found = users.rows.map((u) => Number(u.id));
  const versions = await client.query<{ id: string; version: string }>(
    `SELECT x.id::text AS id, coalesce(v.version, 0)::text || '.' || md5(coalesce((
         SELECT string_agg(q.id::text || ':' || q.platform || ':' || coalesce(q.daily_limit_usd::text, '-') || ':' ||
                coalesce(q.weekly_limit_usd::text, '-') || ':' || coalesce(q.monthly_limit_usd::text, '-'), ',' ORDER BY q.id)
         FROM user_platform_quotas q WHERE q.user_id = x.id AND q.deleted_at IS NULL), '')) AS version
     FROM unnest($1::bigint[]) AS x(id) LEFT JOIN console_quota_versions v ON v.user_id = x.id`,
    [found],
  );
  const rows = await client.query<RawRow>(
    `SELECT ${QUOTA_COLUMNS} FROM user_platform_quotas WHERE user_id = ANY($1::bigint[]) AND deleted_at IS NULL
     ORDER BY user_id, platform${lock ? " FOR UPDATE" : ""}`,
    [found],
  );
  const out = new Map<number, Loaded>();
  for (const u of users.rows)
    out.set(Number(u.id), {
      user: { id: Number(u.id), email: u.email, source: u.signup_source },
      version: "",
      rows: [],
    });
  for (const v of versions.rows) out.get(Number(v.id))!.version = v.version;
  for (const r of rows.rows) out.get(Number(r.user_id))?.rows.push(toRow(r));
  return out;
}

// ---- defaults ---------------------------------------------------------------------------------

type DefaultsSnapshot = { version: string; defaultsFor: (source: string) => QuotaMap | null };

/** The quota defaults as a sign-up would apply them now ("system", or a source merged over it), and their version. */
async function loadDefaults(client: Queryable, platforms: readonly string[]): Promise<DefaultsSnapshot> {
  const { rows } = await client.query<{ key: string; value: string }>(
    "SELECT key, value FROM settings WHERE key = ANY($1::text[])",
    [QUOTA_DEFAULT_KEYS],
  );
  const raw = new Map(rows.map((r) => [r.key, r.value]));
  const h = createHash("sha256");
  for (const k of QUOTA_DEFAULT_KEYS) h.update(`${k}\u0000${raw.has(k) ? raw.get(k) : "\u0001"}\u0000`);
  const sys = decodeQuotaMap(raw.get(SYSTEM_QUOTAS_KEY), platforms);
  const input: SignupDefaultsInput = {
    platforms,
    system: sys.map,
    systemUnreadable: !sys.ok,
    sources: {} as SignupDefaultsInput["sources"],
  };
  for (const s of AUTH_SOURCES) {
    const d = decodeQuotaMap(raw.get(sourceQuotasKey(s)), platforms);
    input.sources[s] = { grantOnSignup: raw.get(sourceGrantKey(s)) === "true", overrides: d.map, unreadable: !d.ok };
  }
  const cache = new Map<string, QuotaMap | null>();
  const defaultsFor = (source: string): QuotaMap | null => {
    if (cache.has(source)) return cache.get(source)!;
    let map: QuotaMap | null = null;
    const src: AuthSource = source === "system" ? "email" : (AUTH_SOURCES.find((s) => s === source) ?? "email");
    const plan = planSignupDefaults(
      source === "system"
        ? {
            ...input,
            sources: Object.fromEntries(
              AUTH_SOURCES.map((s) => [s, { ...input.sources[s], grantOnSignup: false }]),
            ) as SignupDefaultsInput["sources"],
          }
        : input,
      src,
    );
    // An unreadable stored map would give 0 everywhere (sign-up's fail-closed rule); a bulk
    // change refuses instead of disabling everyone.
    if (!plan.fallbacks.some((f) => f.kind === "unreadable")) {
      map = {};
      for (const p of platforms) {
        const l = plan.limits[p];
        map[p] = {
          daily: l.daily === null ? null : Number(l.daily),
          weekly: l.weekly === null ? null : Number(l.weekly),
          monthly: l.monthly === null ? null : Number(l.monthly),
        };
      }
    }
    cache.set(source, map);
    return map;
  };
  return { version: h.digest("hex").slice(0, 32), defaultsFor };
}

// ---- scanning a selection ----------------------------------------------------------------------

type ScanItem = Loaded & { plan: UserPlan; target?: QuotaMap };

type Scan = {
  users: number;
  missing: number[];
  fingerprint: string;
  /** apply_defaults: the defaults the scan planned with (frozen into the job, so every batch applies them) */
  defaults: DefaultsSnapshot | null;
};

function canonicalRequest(req: BulkRequest): unknown {
  if (req.operation.kind === "set_values") return { operation: { kind: "set_values" } };
  return { selection: req.selection, operation: req.operation };
}

/**
 * Scan the selection in user-id order, `SCAN_CHUNK` users at a time, planning each, calling
 * `onChunk`; returns the count, the explicitly named ids that do not exist, and the fingerprint.
 */
async function scanSelection(
  client: Queryable,
  req: BulkRequest,
  deps: BulkDeps,
  onChunk: (items: ScanItem[]) => Promise<void> | void,
): Promise<Scan> {
  const rt = deps.billing;
  const now = deps.now ?? Date.now();
  const platforms = await rt.platforms();
  const op = req.operation;
  const defaults = op.kind === "apply_defaults" ? await loadDefaults(client, platforms) : null;
  const ctx: PlanContext = { platforms, defaultsFor: defaults?.defaultsFor };
  const h = createHash("sha256");
  h.update(JSON.stringify({ req: canonicalRequest(req), platforms, defaults: defaults?.version ?? null }));
  h.update("\n");
  const targets = op.kind === "set_values" ? new Map(op.rows.map((r) => [r.userId, r.quotas])) : null;
  const named: number[] | null =
    op.kind === "set_values"
      ? [...targets!.keys()].sort((a, b) => a - b)
      : req.selection!.kind === "ids"
        ? [...new Set(req.selection!.userIds)].sort((a, b) => a - b)
        : null;
  let users = 0;
  const missing: number[] = [];
  let cursor = 0;
  for (;;) {
    let ids: number[];
    if (named) {
      const chunk = named.filter((id) => id > cursor).slice(0, SCAN_CHUNK);
      if (chunk.length === 0) break;
      cursor = chunk[chunk.length - 1];
      ids = chunk;
    } else {
      const sql = new SqlParams();
      const filter = req.selection!.kind === "filter" ? req.selection!.filter : null;
      const where = bulkFilterSql(filter!, rt.clock, now, sql);
      const { rows } = await client.query<{ id: string }>(
        `SELECT u.id FROM users u WHERE ${where} AND u.id > ${sql.add(cursor)} ORDER BY u.id LIMIT ${sql.add(SCAN_CHUNK)}`,
        sql.values,
      );
      if (rows.length === 0) break;
      ids = rows.map((r) => Number(r.id));
      cursor = ids[ids.length - 1];
    }
    const loaded = await loadUsers(client, ids, false);
    const items: ScanItem[] = [];
    for (const id of ids) {
      const l = loaded.get(id);
      if (!l) {
        missing.push(id);
        continue;
      }
      const target = targets?.get(id);
      const plan =
        op.kind === "set_values"
          ? planUser({ kind: "set_values", quotas: target! }, l.user, l.rows, ctx)
          : planUser(op, l.user, l.rows, ctx);
      users++;
      h.update(`${id}:${l.version}${target ? `:${JSON.stringify(platforms.map((p) => target[p] ?? null))}` : ""}\n`);
      items.push({ ...l, plan, target });
    }
    await onChunk(items);
  }
  h.update(`missing:${missing.join(",")}`);
  return { users, missing, fingerprint: h.digest("hex"), defaults };
}

// ---- preview ---------------------------------------------------------------------------------

export async function previewBulk(req: BulkRequest, deps: BulkDeps): Promise<BulkPreview> {
  let usersChanged = 0;
  let cellsChanged = 0;
  const sample: CellChange[] = [];
  const problems: Array<{ userId: number; code: string }> = [];
  const scan = await scanSelection(deps.billing.pool, req, deps, (items) => {
    for (const it of items) {
      if (it.plan.kind === "refused") {
        if (problems.length < MAX_PROBLEMS) problems.push({ userId: it.user.id, code: it.plan.code });
        continue;
      }
      if (it.plan.kind === "none") continue;
      usersChanged++;
      cellsChanged += it.plan.cells.length;
      for (const c of it.plan.cells) if (sample.length < SAMPLE_CELLS) sample.push(c);
    }
  });
  for (const id of scan.missing)
    if (problems.length < MAX_PROBLEMS) problems.push({ userId: id, code: "USER_NOT_FOUND" });
  return { users: scan.users, usersChanged, cellsChanged, sample, problems, fingerprint: scan.fingerprint };
}

// ---- starting a job ----------------------------------------------------------------------------

export type StartResult = { ok: true; jobId: number } | { ok: false; code: "STALE_PREVIEW" | "NOTHING_TO_CHANGE" };

/** What the job row keeps of the request (set_values' rows live in bulk_job_users.target). */
function storedRequest(req: BulkRequest): unknown {
  return req.operation.kind === "set_values"
    ? { operation: { kind: "set_values", users: req.operation.rows.length } }
    : { selection: req.selection, operation: req.operation };
}

async function insertBulkAudit(
  client: Queryable,
  actor: BulkActor,
  action: "bulk.apply" | "bulk.undo",
  jobId: number,
  summary: unknown,
  undoOf: number | null,
): Promise<number> {
  const { rows } = await client.query<{ id: string }>(
    `INSERT INTO console_audit_logs (actor_id, actor_email, action, target_type, target_id, changes, undo_of)
     VALUES ($1::bigint, $2, $3, 'bulk', $4, $5::jsonb, $6::bigint) RETURNING id`,
    [
      actor.id,
      actor.email,
      action,
      String(jobId),
      JSON.stringify([{ key: "bulk", before: null, after: summary }]),
      undoOf,
    ],
  );
  return Number(rows[0].id);
}

/**
 * Start applying `req` if it still has the preview's `fingerprint` (else STALE_PREVIEW, nothing
 * written): the job row, its users and its audit entry in one transaction. A worker
 * (BulkWorker) then applies it batch by batch.
 */
export async function startBulkJob(
  req: BulkRequest,
  fingerprint: string,
  actor: BulkActor,
  deps: BulkDeps,
): Promise<StartResult> {
  const kind = req.operation.kind;
  return withTransaction<StartResult>(deps.billing.pool, async (client) => {
    const job = await client.query<{ id: string }>(
      `INSERT INTO bulk_jobs (kind, request, fingerprint, state, total, actor_id, actor_email)
       VALUES ($1, $2::jsonb, $3, 'running', 0, $4, $5) RETURNING id`,
      [kind, JSON.stringify(storedRequest(req)), fingerprint, actor.id, actor.email],
    );
    const jobId = Number(job.rows[0].id);
    let pending = 0;
    let unchanged = 0;
    let refused = 0;
    const scan = await scanSelection(client, req, deps, async (items) => {
      const changing = items.filter((it) => it.plan.kind === "limits" || it.plan.kind === "reset");
      unchanged += items.filter((it) => it.plan.kind === "none").length;
      refused += items.filter((it) => it.plan.kind === "refused").length;
      pending += changing.length;
      if (changing.length === 0) return;
      await client.query(
        `INSERT INTO bulk_job_users (job_id, user_id, expected_version, target)
         SELECT $1, u, v, t FROM unnest($2::bigint[], $3::text[], $4::jsonb[]) AS x(u, v, t)`,
        [
          jobId,
          changing.map((it) => it.user.id),
          changing.map((it) => it.version),
          changing.map((it) => (it.target ? JSON.stringify(it.target) : null)),
        ],
      );
    });
    if (scan.fingerprint !== fingerprint) return rollback({ ok: false, code: "STALE_PREVIEW" });
    if (pending === 0) return rollback({ ok: false, code: "NOTHING_TO_CHANGE" });
    if (scan.defaults) {
      // The defaults as the preview planned them: a defaults save during the run changes nothing here.
      const resolved = Object.fromEntries(["system", ...AUTH_SOURCES].map((k) => [k, scan.defaults!.defaultsFor(k)]));
      await client.query(
        "UPDATE bulk_jobs SET request = request || jsonb_build_object('defaults', $2::jsonb) WHERE id = $1",
        [jobId, JSON.stringify(resolved)],
      );
    }
    const auditId = await insertBulkAudit(
      client,
      actor,
      "bulk.apply",
      jobId,
      { job: jobId, ...(storedRequest(req) as object), users: scan.users, changing: pending },
      null,
    );
    await client.query(
      `UPDATE bulk_jobs SET total = $2, unchanged = $3, refused = $4, gone = $5, audit_id = $6 WHERE id = $1`,
      [jobId, scan.users + scan.missing.length, unchanged, refused, scan.missing.length, auditId],
    );
    return { ok: true, jobId };
  });
}

// ---- undo ---------------------------------------------------------------------------------------

export type UndoStartResult =
  | { ok: true; jobId: number }
  | { ok: false; code: "NOT_FOUND" | "BULK_RUNNING" | "UNDO_UNSUPPORTED" | "ALREADY_UNDONE" | "NOTHING_TO_CHANGE" };

/**
 * Undo a whole bulk operation: a job of its own over the users it applied, each restored from its
 * per-user audit entry where nothing changed since (else counted and listed as a conflict). Usage
 * resets are not undoable (undo would invent usage); an undo is not undone.
 */
export async function startBulkUndo(jobId: number, actor: BulkActor, deps: BulkDeps): Promise<UndoStartResult> {
  return withTransaction<UndoStartResult>(deps.billing.pool, async (client) => {
    const { rows } = await client.query<{ kind: string; state: string; audit_id: string | null }>(
      "SELECT kind, state, audit_id FROM bulk_jobs WHERE id = $1 FOR UPDATE",
      [jobId],
    );
    const job = rows[0];
    if (!job) return rollback({ ok: false, code: "NOT_FOUND" });
    if (job.kind === "undo" || job.kind === "reset_usage") return rollback({ ok: false, code: "UNDO_UNSUPPORTED" });
    if (job.state === "running" || job.state === "cancelling") return rollback({ ok: false, code: "BULK_RUNNING" });
    const existing = await client.query("SELECT 1 FROM bulk_jobs WHERE undo_of = $1", [jobId]);
    if (existing.rowCount) return rollback({ ok: false, code: "ALREADY_UNDONE" });
    const ins = await client.query<{ id: string }>(
      `INSERT INTO bulk_jobs (kind, request, fingerprint, state, total, actor_id, actor_email, undo_of)
       VALUES ('undo', $1::jsonb, '', 'running', 0, $2, $3, $4) RETURNING id`,
      [JSON.stringify({ undoOf: jobId }), actor.id, actor.email, jobId],
    );
    const undoId = Number(ins.rows[0].id);
    const users = await client.query(
      `INSERT INTO bulk_job_users (job_id, user_id, audit_id)
       SELECT $1, user_id, audit_id FROM bulk_job_users WHERE job_id = $2 AND state = ${STATE.applied}`,
      [undoId, jobId],
    );
    const total = users.rowCount ?? 0;
    if (total === 0) return rollback({ ok: false, code: "NOTHING_TO_CHANGE" });
    const auditId = await insertBulkAudit(
      client,
      actor,
      "bulk.undo",
      undoId,
      { job: undoId, undoOf: jobId, users: total },
      job.audit_id === null ? null : Number(job.audit_id),
    );
    await client.query("UPDATE bulk_jobs SET total = $2, audit_id = $3 WHERE id = $1", [undoId, total, auditId]);
    return { ok: true, jobId: undoId };
  });
}

/** Ask a running job to stop after its current batch (what was applied stays applied, and can be undone). */
export async function cancelBulkJob(pool: Pick<pg.Pool, "query">, jobId: number): Promise<boolean> {
  const r = await pool.query(
    "UPDATE bulk_jobs SET state = 'cancelling', updated_at = now() WHERE id = $1 AND state = 'running'",
    [jobId],
  );
  return (r.rowCount ?? 0) > 0;
}

// ---- batches ----------------------------------------------------------------------------------

type JobRow = {
  id: string;
  kind: string;
  request: {
    selection?: unknown;
    operation?: BulkOperation;
    undoOf?: number;
    /** apply_defaults: source (or "system") → the limits the preview planned with */
    defaults?: Record<string, QuotaMap | null>;
  };
  state: BulkJobState;
  cursor: string;
  lease_owner: string | null;
  audit_id: string | null;
};

export type BatchResult = { outcome: "more" | "done" | "cancelled" | "lost"; users: number; outboxItems: number };

const numeric = (v: number | null) => (v === null ? null : formatGoFloat(v));

/**
 * One batch of job `jobId` as worker `owner`: see the module comment. Exported for tests and the
 * benchmark; the worker loops it.
 */
export async function runBulkBatch(
  jobId: number,
  owner: string,
  deps: BulkDeps & { batchSize?: number; leaseMs?: number },
): Promise<BatchResult> {
  const rt = deps.billing;
  const batchSize = deps.batchSize ?? DEFAULT_BATCH_SIZE;
  const leaseMs = deps.leaseMs ?? DEFAULT_LEASE_MS;
  const flusher = rt.service.config.flusherEnabled;
  const useRedis = rt.cache !== null;
  const platforms = await rt.platforms();
  const work = await withTransaction(rt.pool, async (client) => {
    const { rows } = await client.query<JobRow>(
      "SELECT id, kind, request, state, cursor, lease_owner, audit_id FROM bulk_jobs WHERE id = $1 FOR UPDATE",
      [jobId],
    );
    const job = rows[0];
    if (!job || job.lease_owner !== owner) return { outcome: "lost" as const, ids: [], items: [], users: 0 };
    if (job.state === "cancelling" || job.state !== "running") {
      if (job.state === "cancelling")
        await client.query(
          "UPDATE bulk_jobs SET state = 'cancelled', finished_at = now(), updated_at = now(), lease_owner = NULL, lease_until = NULL WHERE id = $1",
          [jobId],
        );
      return { outcome: "cancelled" as const, ids: [], items: [], users: 0 };
    }
    const batch = await client.query<{
      user_id: string;
      expected_version: string | null;
      target: QuotaMap | null;
      audit_id: string | null;
      changes: PlanChange[] | null;
    }>(
      `SELECT b.user_id, b.expected_version, b.target, b.audit_id, a.changes
       FROM bulk_job_users b LEFT JOIN console_audit_logs a ON a.id = b.audit_id AND $3::bool
       WHERE b.job_id = $1 AND b.user_id > $2 ORDER BY b.user_id LIMIT $4`,
      [jobId, job.cursor, job.kind === "undo", batchSize],
    );
    if (batch.rows.length === 0) {
      await client.query(
        "UPDATE bulk_jobs SET state = 'done', finished_at = now(), updated_at = now(), lease_owner = NULL, lease_until = NULL WHERE id = $1",
        [jobId],
      );
      return { outcome: "done" as const, ids: [], items: [], users: 0 };
    }
    const ids = batch.rows.map((r) => Number(r.user_id));
    const loaded = await loadUsers(client, ids, true);
    const ctx: PlanContext = { platforms };
    const op = job.request.operation;
    if (op?.kind === "apply_defaults") {
      const frozen = job.request.defaults ?? {};
      ctx.defaultsFor = (source) =>
        source === "system" ? (frozen.system ?? null) : ((source in frozen ? frozen[source] : frozen.email) ?? null);
    }
    const now = deps.now ?? Date.now();
    const states: number[] = [];
    const planned: Array<{ l: Loaded; plan: Extract<UserPlan, { kind: "limits" | "reset" }>; undoOf: number | null }> =
      [];
    for (const r of batch.rows) {
      const l = loaded.get(Number(r.user_id));
      if (!l) {
        states.push(STATE.gone);
        continue;
      }
      if (r.expected_version !== null && r.expected_version !== l.version) {
        states.push(STATE.conflict);
        continue;
      }
      let plan: UserPlan;
      if (job.kind === "undo") plan = planUndo(r.changes ?? [], l.user, l.rows, ctx);
      else if (op!.kind === "set_values")
        plan = planUser({ kind: "set_values", quotas: r.target! }, l.user, l.rows, ctx);
      else plan = planUser(op!, l.user, l.rows, ctx);
      if (plan.kind === "none") states.push(STATE.unchanged);
      else if (plan.kind === "refused") states.push(plan.code === "UNDO_CONFLICT" ? STATE.conflict : STATE.refused);
      else {
        states.push(STATE.applied);
        planned.push({ l, plan, undoOf: r.audit_id === null || job.kind !== "undo" ? null : Number(r.audit_id) });
      }
    }

    // Writes: limits (upsert / soft-delete), resets, versions, audit, outbox.
    const limitUsers = planned.filter((p) => p.plan.kind === "limits");
    const ups = limitUsers.flatMap((p) =>
      p.plan.kind === "limits" ? p.plan.upserts.map((u) => ({ userId: p.l.user.id, ...u })) : [],
    );
    const rems = limitUsers.flatMap((p) =>
      p.plan.kind === "limits" ? p.plan.removes.map((platform) => ({ userId: p.l.user.id, platform })) : [],
    );
    if (rems.length)
      await client.query(
        `UPDATE user_platform_quotas q SET deleted_at = now(), updated_at = now()
         FROM unnest($1::bigint[], $2::text[]) AS r(u, p) WHERE q.user_id = r.u AND q.platform = r.p AND q.deleted_at IS NULL`,
        [rems.map((r) => r.userId), rems.map((r) => r.platform)],
      );
    if (ups.length)
      await client.query(
        `INSERT INTO user_platform_quotas (user_id, platform, daily_limit_usd, weekly_limit_usd, monthly_limit_usd, created_at, updated_at)
         SELECT r.u, r.p, r.d, r.w, r.m, now(), now()
         FROM unnest($1::bigint[], $2::text[], $3::numeric[], $4::numeric[], $5::numeric[]) AS r(u, p, d, w, m)
         ON CONFLICT (user_id, platform) WHERE deleted_at IS NULL DO UPDATE SET
           daily_limit_usd = EXCLUDED.daily_limit_usd, weekly_limit_usd = EXCLUDED.weekly_limit_usd,
           monthly_limit_usd = EXCLUDED.monthly_limit_usd, updated_at = now()`,
        [
          ups.map((u) => u.userId),
          ups.map((u) => u.platform),
          ups.map((u) => numeric(u.limits.daily)),
          ups.map((u) => numeric(u.limits.weekly)),
          ups.map((u) => numeric(u.limits.monthly)),
        ],
      );
    const resets = planned.flatMap((p) =>
      p.plan.kind === "reset" ? p.plan.resets.map((r) => ({ userId: p.l.user.id, ...r })) : [],
    );
    const starts: Record<QuotaWindow, number> = {
      daily: rt.clock.currentWindowStart("daily", now),
      weekly: rt.clock.currentWindowStart("weekly", now),
      monthly: rt.clock.currentWindowStart("monthly", now),
    };
    for (const w of ["daily", "weekly", "monthly"] as const) {
      const these = resets.filter((r) => r.window === w);
      if (these.length === 0) continue;
      await client.query(
        `UPDATE user_platform_quotas q SET ${w}_usage_usd = 0, ${w}_window_start = $3, updated_at = now()
         FROM unnest($1::bigint[], $2::text[]) AS r(u, p) WHERE q.user_id = r.u AND q.platform = r.p AND q.deleted_at IS NULL`,
        [these.map((r) => r.userId), these.map((r) => r.platform), new Date(starts[w])],
      );
    }
    const changedIds = planned.map((p) => p.l.user.id);
    // The users list's quota keys of the changed users, in this batch's transaction (after the rows).
    await refreshQuotaKeys(client, rt.clock, changedIds, now);
    if (changedIds.length)
      await client.query(
        `INSERT INTO console_quota_versions (user_id, version, updated_at) SELECT u, 1, now() FROM unnest($1::bigint[]) AS u
         ON CONFLICT (user_id) DO UPDATE SET version = console_quota_versions.version + 1, updated_at = now()`,
        [changedIds],
      );
    const bulkOf = job.audit_id === null ? null : Number(job.audit_id);
    const audit = changedIds.length
      ? await client.query<{ id: string; target_id: string }>(
          `INSERT INTO console_audit_logs (actor_id, actor_email, action, target_type, target_id, changes, undo_of, bulk_of)
           SELECT j.actor_id, j.actor_email, x.a, 'user', x.t, x.c, x.uo, $5::bigint
           FROM bulk_jobs j, unnest($2::text[], $3::text[], $4::jsonb[], $6::bigint[]) AS x(a, t, c, uo) WHERE j.id = $1
           RETURNING id, target_id`,
          [
            jobId,
            planned.map((p) =>
              p.plan.kind === "reset" ? "user.platform_quotas.reset" : "user.platform_quotas.update",
            ),
            planned.map((p) => String(p.l.user.id)),
            planned.map((p) => JSON.stringify(p.plan.changes)),
            bulkOf,
            planned.map((p) => p.undoOf),
          ],
        )
      : { rows: [] };
    const auditByUser = new Map(audit.rows.map((a) => [Number(a.target_id), Number(a.id)]));

    // Redis work for the changed keys only: an unchanged row's entry is still right.
    const items: OutboxItem[] = [];
    if (useRedis && planned.length) {
      const after = limitUsers.length
        ? await loadRowsOf(
            client,
            limitUsers.map((p) => p.l.user.id),
          )
        : new Map<number, QuotaRow[]>();
      for (const p of planned) {
        const uid = p.l.user.id;
        if (p.plan.kind === "reset")
          for (const r of p.plan.resets) items.push(...resetWork(uid, r.platform, r.window, starts[r.window], flusher));
        else {
          const touched = [...p.plan.upserts.map((u) => u.platform), ...p.plan.removes];
          items.push(...saveWork(uid, p.l.rows, after.get(uid) ?? [], flusher, touched));
        }
      }
    }
    const outboxIds = await enqueueOutbox(client, items);

    // The batch's users' outcomes, the cursor, the counters, the lease.
    await client.query(
      `UPDATE bulk_job_users b SET state = x.s, audit_id = CASE WHEN $4::bool THEN b.audit_id ELSE coalesce(x.a, b.audit_id) END
       FROM unnest($2::bigint[], $3::smallint[], $5::bigint[]) AS x(u, s, a) WHERE b.job_id = $1 AND b.user_id = x.u`,
      [jobId, ids, states, job.kind === "undo", ids.map((id) => auditByUser.get(id) ?? null)],
    );
    const count = (s: number) => states.filter((x) => x === s).length;
    await client.query(
      `UPDATE bulk_jobs SET cursor = $2, applied = applied + $3, unchanged = unchanged + $4, conflicts = conflicts + $5,
         gone = gone + $6, refused = refused + $7, updated_at = now(), error = NULL,
         lease_until = now() + make_interval(secs => $8::float8 / 1000) WHERE id = $1`,
      [
        jobId,
        ids[ids.length - 1],
        count(STATE.applied),
        count(STATE.unchanged),
        count(STATE.conflict),
        count(STATE.gone),
        count(STATE.refused),
        leaseMs,
      ],
    );
    return { outcome: "more" as const, ids: outboxIds, items, users: ids.length };
  });
  if (work.outcome === "more" && work.ids.length) await bulkFirstPass(rt, work.ids, work.items);
  return { outcome: work.outcome, users: work.users, outboxItems: work.items.length };
}

/** Keys whose first pass runs at once after a batch's commit (each key's items stay in order). */
export const FIRST_PASS_CONCURRENCY = 8;

/**
 * lib/billing/admin-changes.ts firstPass for a batch: the same Redis work per outbox row
 * (repairer.handleOutbox) and the same bookkeeping (markFirstPass / markFirstPassFailed), but
 * FIRST_PASS_CONCURRENCY keys at a time — a batch's keys are distinct users' — instead of one
 * round trip after another. After a failure the rest is left to the repairer at once, as there.
 */
async function bulkFirstPass(rt: BillingRuntime, ids: number[], items: OutboxItem[]): Promise<void> {
  if (!rt.cache || ids.length === 0) return;
  const byKey = new Map<string, number[]>();
  items.forEach((it, i) => byKey.set(it.cacheKey, [...(byKey.get(it.cacheKey) ?? []), i]));
  const groups = [...byKey.values()];
  const ok: number[] = [];
  const failed: number[] = [];
  let error: unknown = null;
  let next = 0;
  const lane = async () => {
    while (next < groups.length) {
      for (const i of groups[next++]) {
        if (error !== null) {
          failed.push(ids[i]);
          continue;
        }
        try {
          await rt.repairer.handleOutbox({
            id: ids[i],
            cacheKey: items[i].cacheKey,
            kind: items[i].kind,
            payload: items[i].payload ?? null,
            firstPassDone: false,
            attempts: 0,
          });
          ok.push(ids[i]);
        } catch (e) {
          error = e ?? new Error("failed");
          failed.push(ids[i]);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(FIRST_PASS_CONCURRENCY, groups.length) }, lane));
  await markFirstPass(rt.pool, ok).catch(() => {});
  if (failed.length) {
    console.error(`ALERT bulk batch: Redis work for ${failed.length} key(s) failed; queued for retry`, String(error));
    await markFirstPassFailed(rt.pool, failed, error).catch(() => {});
  }
}

async function loadRowsOf(client: Queryable, userIds: number[]): Promise<Map<number, QuotaRow[]>> {
  const { rows } = await client.query<RawRow>(
    `SELECT ${QUOTA_COLUMNS} FROM user_platform_quotas WHERE user_id = ANY($1::bigint[]) AND deleted_at IS NULL`,
    [userIds],
  );
  const out = new Map<number, QuotaRow[]>();
  for (const r of rows) {
    const row = toRow(r);
    const list = out.get(row.userId) ?? [];
    list.push(row);
    out.set(row.userId, list);
  }
  return out;
}

// ---- the worker -------------------------------------------------------------------------------

export type BulkWorkerOptions = {
  batchSize?: number;
  leaseMs?: number;
  /** pause between batches (a test's crash window; 0 by default) */
  pauseMs?: number;
  owner?: string;
  /** called after each committed batch */
  onBatch?: (jobId: number, r: BatchResult) => void | Promise<void>;
  logger?: Pick<Console, "warn" | "error">;
};

/**
 * Claims a job whose lease is free or expired (one UPDATE over FOR UPDATE SKIP LOCKED: two workers
 * never hold the same job) and runs its batches until it is done, cancelled or the lease is lost.
 * Every console instance runs one (lib/bulk/runtime.ts); a job whose worker died is taken over once
 * its lease ran out.
 */
export class BulkWorker {
  readonly owner: string;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(
    private readonly deps: BulkDeps,
    private readonly opts: BulkWorkerOptions = {},
  ) {
    this.owner = opts.owner ?? `bulk-${randomUUID()}`;
  }

  /** Claim one job; its id or null. */
  async claim(): Promise<number | null> {
    const { rows } = await this.deps.billing.pool.query<{ id: string }>(
      `UPDATE bulk_jobs SET lease_owner = $1, lease_until = now() + make_interval(secs => $2::float8 / 1000), updated_at = now()
       WHERE id = (SELECT id FROM bulk_jobs WHERE state IN ('running', 'cancelling')
                     AND (lease_until IS NULL OR lease_until < now() OR lease_owner = $1)
                   ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
       RETURNING id`,
      [this.owner, this.opts.leaseMs ?? DEFAULT_LEASE_MS],
    );
    return rows[0] ? Number(rows[0].id) : null;
  }

  /** Claim and run jobs until none is left; the number of batches run. */
  async runOnce(): Promise<number> {
    let batches = 0;
    for (;;) {
      if (this.stopped) return batches;
      const jobId = await this.claim();
      if (jobId === null) return batches;
      for (;;) {
        if (this.stopped) return batches;
        let r: BatchResult;
        try {
          r = await runBulkBatch(jobId, this.owner, {
            ...this.deps,
            batchSize: this.opts.batchSize,
            leaseMs: this.opts.leaseMs,
          });
        } catch (e) {
          (this.opts.logger ?? console).error(`bulk job ${jobId}: batch failed; retried`, String(e));
          await this.deps.billing.pool
            .query(
              "UPDATE bulk_jobs SET error = $2, lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $3",
              [jobId, String(e).slice(0, 500), this.owner],
            )
            .catch(() => {});
          return batches;
        }
        if (r.outcome !== "more") break;
        batches++;
        await this.opts.onBatch?.(jobId, r);
        if (this.opts.pauseMs) await new Promise((res) => setTimeout(res, this.opts.pauseMs));
      }
    }
  }

  /** Run now (after a job was started), unless a pass is already running. */
  kick(): void {
    if (this.running || this.stopped) return;
    this.running = this.runOnce()
      .then(() => undefined)
      .catch((e) => (this.opts.logger ?? console).error("bulk worker failed", String(e)))
      .finally(() => (this.running = null));
  }

  start(intervalMs = 2000): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.kick(), intervalMs);
    this.timer.unref();
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }
}

// ---- progress ------------------------------------------------------------------------------------

type ProgressRow = {
  id: string;
  kind: string;
  state: BulkJobState;
  total: number;
  applied: number;
  unchanged: number;
  conflicts: number;
  gone: number;
  refused: number;
  created_at: Date;
  finished_at: Date | null;
  actor_email: string;
  undo_of: string | null;
  undone_by: string | null;
  error: string | null;
};

const PROGRESS_SQL = `SELECT j.id, j.kind, j.state, j.total, j.applied, j.unchanged, j.conflicts, j.gone, j.refused,
    j.created_at, j.finished_at, j.actor_email, j.undo_of, (SELECT u.id FROM bulk_jobs u WHERE u.undo_of = j.id) AS undone_by, j.error
  FROM bulk_jobs j`;

function toProgress(r: ProgressRow): BulkJobProgress & { refused: number } {
  return {
    id: Number(r.id),
    kind: r.kind as BulkOperationKind | "undo",
    state: r.state,
    total: r.total,
    done: r.applied + r.unchanged + r.conflicts + r.gone + r.refused,
    applied: r.applied,
    unchanged: r.unchanged,
    conflicts: r.conflicts,
    gone: r.gone,
    refused: r.refused,
    createdAt: r.created_at.toISOString(),
    finishedAt: r.finished_at?.toISOString() ?? null,
    actorEmail: r.actor_email,
    undoOf: r.undo_of === null ? null : Number(r.undo_of),
    undoneBy: r.undone_by === null ? null : Number(r.undone_by),
    error: r.error,
  };
}

export async function bulkJobProgress(pool: Pick<pg.Pool, "query">, jobId: number) {
  const { rows } = await pool.query<ProgressRow>(`${PROGRESS_SQL} WHERE j.id = $1`, [jobId]);
  return rows[0] ? toProgress(rows[0]) : null;
}

/** The most recent jobs, newest first. */
export async function listBulkJobs(pool: Pick<pg.Pool, "query">, limit = 10) {
  const { rows } = await pool.query<ProgressRow>(`${PROGRESS_SQL} ORDER BY j.id DESC LIMIT $1`, [limit]);
  return rows.map(toProgress);
}

/** Jobs still running (what /api/health reports). */
export async function activeBulkJobs(pool: Pick<pg.Pool, "query">) {
  const { rows } = await pool.query<ProgressRow>(
    `${PROGRESS_SQL} WHERE j.state IN ('running', 'cancelling') ORDER BY j.id`,
  );
  return rows.map(toProgress);
}

/** Users of a job with an outcome other than applied (conflicts first), with their e-mail: the report. */
export async function bulkJobExceptions(pool: Pick<pg.Pool, "query">, jobId: number, limit = 100) {
  const { rows } = await pool.query<{ user_id: string; email: string | null; state: number }>(
    `SELECT b.user_id, u.email, b.state FROM bulk_job_users b LEFT JOIN users u ON u.id = b.user_id
     WHERE b.job_id = $1 AND b.state IN (${STATE.conflict}, ${STATE.gone}, ${STATE.refused}) ORDER BY b.state, b.user_id LIMIT $2`,
    [jobId, limit],
  );
  const name: Record<number, "conflict" | "gone" | "refused"> = {
    [STATE.conflict]: "conflict",
    [STATE.gone]: "gone",
    [STATE.refused]: "refused",
  };
  return rows.map((r) => ({ userId: Number(r.user_id), email: r.email, outcome: name[r.state] }));
}
