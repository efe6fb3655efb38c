import { randomBytes } from "node:crypto";
import type Redis from "ioredis";
import type pg from "pg";

import { entryFromRow, sentinelEntry } from "./decision";
import { formatGoFloat, formatGoInt, formatNullableFloat, formatNullableInstant } from "./encoding";
import { billingKeys, parseQuotaKey } from "./keys";
import { withTimeout, type LedgerLogger, type ParkedOp, type UsageLedger } from "./ledger";
import type { BillingMetrics } from "./metrics";
import { expediteOutbox, processOutbox, type OutboxRow } from "./outbox";
import {
  decodeQuotaEntry,
  QUOTA_CACHE_TTL_SECONDS,
  QUOTA_SCHEMA_VERSION,
  QUOTA_SENTINEL_TTL_SECONDS,
  type QuotaCache,
  type QuotaField,
} from "./quota-cache";
import type { QuotaRepository } from "./quota-repo";
import type { QuotaWindow } from "./vocabulary";
import type { QuotaClock } from "./windows";

/**
 * The repair loop every billing runtime runs (the console app, each gateway process, the flusher
 * worker): it finishes, exactly once, whatever the ledger could not finish at once.
 *
 *   journal   ops whose PostgreSQL write failed or is unconfirmed (Redis, qc:billing:journal)
 *   memory    ops that found neither store (this process only)
 *   outbox    Redis work committed in PostgreSQL: admin changes (del / in place), a lost increment
 *             reply (cancel), an increment that could not reach Redis (replay)
 *   flushers  members of killed flushers go back to the dirty set
 *   malformed quota hashes found by checks are repaired
 *
 * Each step tolerates the other store being down and is safe to run in several processes at once.
 */
/** How long a repairer owns a claimed journal entry: far above one write (pool timeouts: ≤ 15 s). */
const JOURNAL_CLAIM_MS = 60_000;
/** Journal entries claimed — and written in one transaction — per pass. */
const JOURNAL_BATCH = 200;

export type AdminPayload =
  | { op: "limits" }
  | { op: "reset"; window: QuotaWindow; start: number; resetId: string }
  | { op: "replace"; oldRowId: number | null };

export class BillingRepairer {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  private started = false;
  private readonly malformed = new Map<string, { userId: number; platform: string }>();
  /** rebuilt keys to verify against PostgreSQL, with when (direct mode) */
  private readonly verifications = new Map<string, { userId: number; platform: string; due: number[] }>();
  private lastRecovery = 0;
  /** this repairer's claim token for journal entries */
  private readonly token = randomBytes(8).toString("hex");
  /** when commit markers past their retention were last pruned (hourly) */
  private lastMarkerPrune = 0;

  constructor(
    private readonly deps: {
      cache: QuotaCache | null;
      redis: Redis | null;
      repo: QuotaRepository;
      pool: pg.Pool;
      ledger: UsageLedger;
      clock: QuotaClock;
      metrics: BillingMetrics;
      logger: LedgerLogger;
      flusherEnabled: boolean;
    },
    readonly intervalMs = 1000,
  ) {
    // Redis back after an outage: do the parked work now, not after the backoff.
    deps.redis?.on("ready", () => {
      if (!this.started || this.stopped) return;
      void expediteOutbox(deps.pool).catch(() => {});
      this.kick();
    });
  }

  /**
   * Direct mode: a check rebuilt this key's hash. A DEL of the old hash (an admin change, an eviction,
   * the Go gateway's own invalidation) can race a usage op that was applied to the old hash and whose
   * PostgreSQL commit came after the rebuild read the row: the new hash then lacks that cost. Verify the
   * key after the ops in flight at the rebuild have committed (2 s, and again after the record
   * timeout): PostgreSQL read first, then Redis — if PostgreSQL has more in a window both agree on, the
   * hash misses something and is dropped (rebuilt from PostgreSQL by the next check).
   */
  verifyRebuild(userId: number, platform: string): void {
    if (this.deps.flusherEnabled) return;
    const now = Date.now();
    this.verifications.set(`${userId}:${platform}`, {
      userId,
      platform,
      due: [now + 2000, now + this.deps.ledger.config.recordTimeoutMs + 2000],
    });
  }

  /** Queue a malformed quota hash for repair (deduplicated). */
  reportMalformed(userId: number, platform: string): void {
    this.malformed.set(`${userId}:${platform}`, { userId, platform });
    this.kick();
  }

  start(): void {
    if (this.timer || this.stopped) return;
    this.started = true;
    const tick = () => {
      this.running = this.runOnce()
        .then(() => undefined)
        .catch((e) => this.deps.logger.warn("billing repairer pass failed", { error: String(e) }))
        .finally(() => {
          this.running = null;
          if (!this.stopped) this.timer = setTimeout(tick, this.intervalMs).unref();
        });
    };
    this.timer = setTimeout(tick, this.intervalMs).unref();
  }

  /** Run a pass soon (a store came back, a repair was queued). */
  kick(): void {
    if (this.stopped || !this.started || this.running) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.running = this.runOnce()
      .then(() => undefined)
      .catch((e) => this.deps.logger.warn("billing repairer pass failed", { error: String(e) }))
      .finally(() => {
        this.running = null;
        if (!this.stopped) this.timer = setTimeout(() => this.kickTick(), this.intervalMs).unref();
      });
  }

  private kickTick() {
    this.timer = null;
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One pass of every step; each step's failure is contained. Returns what was done. */
  async runOnce(): Promise<{ journal: number; memory: number; outbox: number; recovered: number; repaired: number }> {
    const out = { journal: 0, memory: 0, outbox: 0, recovered: 0, repaired: 0 };
    const step = async (name: keyof typeof out, fn: () => Promise<number>) => {
      try {
        out[name] += await fn();
      } catch (e) {
        this.deps.logger.warn(`billing repairer: ${name} step failed`, { error: String(e) });
      }
    };
    await step("memory", () => this.drainMemory());
    await step("journal", () => this.drainJournal());
    await step("outbox", () => this.drainOutbox());
    await step("recovered", () => this.recoverFlushers());
    await step("repaired", () => this.repairMalformed());
    await step("repaired", () => this.runVerifications());
    if (Date.now() - this.lastMarkerPrune > 3600_000) {
      this.lastMarkerPrune = Date.now();
      await this.deps.repo
        .pruneMarkers()
        .catch((e: unknown) => this.deps.logger.warn("billing repairer: marker prune failed", { error: String(e) }));
    }
    return out;
  }

  /** Until nothing is left to do (or `maxPasses`): for tests, the chaos suite and shutdown. */
  async settleAll(maxPasses = 50): Promise<void> {
    await this.deps.ledger.drain();
    for (let i = 0; i < maxPasses; i++) {
      const r = await this.runOnce();
      const left = await this.backlog().catch(() => ({ journal: 1, memory: 1, outbox: 1 }));
      if (left.journal + left.memory + left.outbox === 0 && r.journal + r.memory + r.outbox === 0) return;
      await new Promise((res) => setTimeout(res, 100));
    }
  }

  /** Parked work left: journal entries, ops in memory, outbox rows. */
  async backlog(): Promise<{ journal: number; memory: number; outbox: number }> {
    const [journal, outbox] = await Promise.all([
      this.deps.cache ? this.deps.cache.journalSize() : Promise.resolve(0),
      this.deps.pool
        .query<{ n: number }>("SELECT count(*)::int AS n FROM cache_invalidation_outbox")
        .then((r) => r.rows[0].n),
    ]);
    return { journal, memory: this.deps.ledger.memory.length, outbox };
  }

  // ---- memory ----

  private async drainMemory(): Promise<number> {
    const { ledger, cache, metrics } = this.deps;
    let done = 0;
    for (const p of [...ledger.memory]) {
      const remove = () => {
        const i = ledger.memory.indexOf(p);
        if (i >= 0) ledger.memory.splice(i, 1);
        metrics.usageOpsInMemory = ledger.memory.length;
        done++;
      };
      if (p.mode === "flusher" && p.redis === "error") {
        // Replay into Redis directly, or hand it to the outbox once PostgreSQL answers.
        if (
          cache &&
          (await this.replay(p, undefined)
            .then(() => true)
            .catch(() => false))
        )
          remove();
        else if (
          await this.enqueueReplay(p)
            .then(() => true)
            .catch(() => false)
        )
          remove();
        continue;
      }
      if (
        cache &&
        (await ledger
          .journal(p)
          .then(() => true)
          .catch(() => false))
      ) {
        remove();
        continue;
      }
      // Only PostgreSQL answers. Direct mode can write it now, with an outbox row that fixes Redis
      // when it returns (cancel a lost increment; else drop the key in case a rebuild slipped past an
      // expired lease). Flusher mode must wait for Redis (the lease decides where the cost goes).
      if (p.mode === "direct") {
        if (!p.outbox) p.outbox = p.redis === "error" ? "cancel" : "del";
        const w = await this.writeParked(p, null);
        if (w === "done") remove();
      }
    }
    return done;
  }

  private enqueueReplay(p: ParkedOp): Promise<void> {
    return this.deps.pool
      .query(
        `INSERT INTO cache_invalidation_outbox (cache_key, kind, payload, next_attempt_at) VALUES ($1, 'replay', $2::jsonb, now())`,
        [billingKeys.userPlatformQuota(p.userId, p.platform), JSON.stringify(p)],
      )
      .then(() => undefined);
  }

  // ---- journal ----

  private async drainJournal(): Promise<number> {
    const { cache, repo, ledger } = this.deps;
    if (!cache) return 0;
    const entries = await cache.journalClaim(JOURNAL_BATCH, JOURNAL_CLAIM_MS, this.token);
    let done = 0;
    const toWrite: Array<{ p: ParkedOp; id: string }> = [];
    for (const e of entries) {
      // A batch can outlast one claim period when the database is slow: renew the claim right before
      // this entry is handled (and take the payload as it is now — another repairer may have stored a
      // commit token in it). A write is bounded far below the claim, so no one else can take the entry meanwhile.
      const payload = await cache.journalRenew(e.id, this.token, JOURNAL_CLAIM_MS);
      if (payload === null) continue;
      let p: ParkedOp;
      try {
        p = JSON.parse(payload) as ParkedOp;
      } catch {
        this.deps.logger.error("ALERT billing: unreadable journal entry dropped", { id: e.id });
        await cache.journalDone(e.id);
        continue;
      }
      const r = await this.prepareParked(p, e.id).catch((err) => {
        this.deps.logger.warn("billing repairer: journal entry failed", { op: p.op.id, error: String(err) });
        return "retry" as const;
      });
      if (r === "write") toWrite.push({ p, id: e.id });
      else if (r === "done") done++;
      else await ledger.journal(p).catch(() => {});
    }
    if (toWrite.length === 0) return done;
    // The entries to write go to PostgreSQL in ONE transaction (one commit token, stored in every entry
    // before COMMIT, so whoever picks them up next asks commitStatus instead of writing them twice).
    const w = await repo.incrementManyExactlyOnce(
      toWrite.map(({ p }) => ({
        userId: p.userId,
        platform: p.platform,
        cost: p.cost,
        at: p.at,
        outbox: ledger.writeOnceOutbox(p),
      })),
      {
        beforeCommit: async (commit) => {
          for (const { p } of toWrite) p.commit = commit;
          await withTimeout(
            Promise.all(toWrite.map(({ p }) => ledger.journal(p, 30_000))),
            ledger.config.incrementTimeoutMs,
            "journal commit token",
          );
        },
      },
    );
    if (w.status === "committed") {
      for (const { p, id } of toWrite) await this.finish(p, id);
      return done + toWrite.length;
    }
    if (w.status === "rejected" && toWrite.length > 1) {
      // One of them can never be written (its user is gone): write them one by one to find it.
      for (const { p, id } of toWrite) {
        const r = await this.writeParked(p, id).catch(() => "retry" as const);
        if (r === "done") done++;
        else await ledger.journal(p).catch(() => {});
      }
      return done;
    }
    if (w.status === "rejected") {
      this.dropRejected(toWrite[0].p, w.error);
      await this.finish(toWrite[0].p, toWrite[0].id);
      return done + 1;
    }
    // failed: retry them all later (uncertain: their commit token is already stored).
    if (w.status === "uncertain") for (const { p } of toWrite) p.commit = w.commit;
    else for (const { p } of toWrite) delete p.commit;
    for (const { p } of toWrite) await ledger.journal(p).catch(() => {});
    return done;
  }

  /**
   * Everything a parked op needs before its PostgreSQL write: the fate of an earlier attempt (its commit token),
   * and — for a journal entry — a live lease on the key (or, flusher mode, a rebuilt entry in Redis
   * to apply the cost to instead). Returns "write" when the cost still has to be written.
   */
  private async prepareParked(p: ParkedOp, journalId: string | null): Promise<"write" | "done" | "retry"> {
    const { repo, ledger, cache } = this.deps;
    p.tries++;
    if (p.commit) {
      const s = await repo.commitStatus(p.commit);
      if (s === "committed") return this.finish(p, journalId);
      if (s === "pending") return "retry";
      if (s === "unknowable") {
        this.deps.logger.error(
          "ALERT billing: cannot tell whether a parked op committed (its marker is past the retention); it stays parked",
          {
            op: p.op.id,
            commit: p.commit,
          },
        );
        return "retry";
      }
      delete p.commit; // never committed: write it again
    }
    if (cache && journalId !== null) {
      const lease = await cache.ensureLease(
        p.userId,
        p.platform,
        p.op.id,
        ledger.journalLeaseMs(p),
        p.mode === "flusher",
      );
      if (lease === "apply-to-redis") {
        // Flusher mode, the lease ran out and a rebuilt entry exists (possibly without this cost):
        // the cost belongs in Redis, whence the flusher carries it to PostgreSQL. A fresh op id (this
        // op's Redis step was a no-op, so it was never applied there).
        const fresh = ledger.ids.next();
        const outcome = await withTimeout(
          cache.increment(p.userId, p.platform, p.cost, fresh, {
            ttlSeconds: ledger.config.cacheTtlSeconds,
            markDirty: true,
            leaseMs: ledger.journalLeaseMs(p),
          }),
          ledger.config.incrementTimeoutMs,
          "cache increment",
        );
        if (outcome === "applied") return this.finish(p, journalId, { released: true });
        // The entry vanished again: continue with the fresh op's lease.
        await cache.journalDone(p.op.id);
        p.op = fresh;
        p.redis = outcome;
        p.leased = true;
        await ledger.journal(p);
        return "done";
      }
      p.leased = true;
    }
    return "write";
  }

  /**
   * Finish a parked op's PostgreSQL write exactly once, on its own. `journalId` is its journal entry
   * (null for an op held in memory, which only this process sees). Returns "done" when it is settled.
   */
  private async writeParked(p: ParkedOp, journalId: string | null): Promise<"done" | "retry"> {
    const { repo, ledger, cache } = this.deps;
    const prep = await this.prepareParked(p, journalId);
    if (prep !== "write") return prep;
    const w = await repo.incrementExactlyOnce({
      userId: p.userId,
      platform: p.platform,
      cost: p.cost,
      at: p.at,
      outbox: ledger.writeOnceOutbox(p),
      beforeCommit:
        journalId !== null && cache
          ? async (commit) => {
              p.commit = commit;
              await withTimeout(ledger.journal(p, 30_000), ledger.config.incrementTimeoutMs, "journal commit token");
            }
          : undefined,
    });
    if (w.status === "committed") return this.finish(p, journalId);
    if (w.status === "rejected") {
      this.dropRejected(p, w.error);
      return this.finish(p, journalId);
    }
    if (w.status === "uncertain") p.commit = w.commit;
    return "retry";
  }

  /** A write the database refuses for good (the user was deleted): logged, counted, not retried. */
  private dropRejected(p: ParkedOp, error: unknown): void {
    this.deps.metrics.usageOpsRejected++;
    this.deps.logger.error("ALERT billing: the database refuses this usage op for good (user deleted?); dropped", {
      op: p.op.id,
      userId: p.userId,
      platform: p.platform,
      cost: p.cost,
      error: String(error),
    });
  }

  private async finish(p: ParkedOp, journalId: string | null, o: { released?: boolean } = {}): Promise<"done"> {
    if (!o.released) await this.deps.ledger.settle(p);
    if (journalId !== null && this.deps.cache) await this.deps.cache.journalDone(journalId);
    return "done";
  }

  // ---- outbox ----

  private async drainOutbox(): Promise<number> {
    const { cache, metrics } = this.deps;
    if (!cache) return 0;
    let total = 0;
    for (let i = 0; i < 10; i++) {
      const r = await processOutbox(this.deps.pool, (row) => this.handleOutbox(row));
      metrics.outboxProcessed += r.done;
      metrics.outboxFailures += r.failed;
      total += r.done;
      if (r.done + r.failed < 200) break;
    }
    return total;
  }

  /** The Redis work of one outbox row (see lib/billing/outbox.ts for the kinds); "again" = do a second pass later. */
  async handleOutbox(row: OutboxRow): Promise<void | "again"> {
    const { cache, repo, clock } = this.deps;
    if (!cache) throw new Error("no Redis");
    const key = parseQuotaKey(row.cacheKey);
    if (!key) return; // not a quota key: nothing we know how to do
    const { userId, platform } = key;
    switch (row.kind) {
      case "del":
        await cache.invalidate(userId, platform);
        return row.firstPassDone ? undefined : "again";
      case "cancel": {
        const p = row.payload as { op: { epoch: string; index: number; id: string } };
        await cache.invalidate(userId, platform, p.op);
        return;
      }
      case "replay":
        await this.replay(row.payload as ParkedOp, row.id);
        return;
      case "admin": {
        const payload = row.payload as AdminPayload;
        if (payload.op === "reset" && !row.firstPassDone) {
          await cache.applyReset(userId, platform, payload.window, payload.start, payload.resetId);
          return "again";
        }
        if (payload.op === "reset") return; // idempotent; nothing left for a second pass
        const current = await repo.getByUserPlatform(userId, platform);
        if (payload.op === "replace" && !row.firstPassDone) {
          const now = Date.now();
          const entry = current ? entryFromRow(current, clock, now) : sentinelEntry(clock, now);
          const old = await cache.replace(
            userId,
            platform,
            entry,
            current ? QUOTA_CACHE_TTL_SECONDS : QUOTA_SENTINEL_TTL_SECONDS,
          );
          if (old && payload.oldRowId !== null) await repo.writeUsageById(payload.oldRowId, old.usage, old.starts);
          return "again";
        }
        // limits, and the second pass of every admin row: re-apply the limits PostgreSQL holds now.
        await cache.applyLimits(
          userId,
          platform,
          current
            ? { daily: current.dailyLimit, weekly: current.weeklyLimit, monthly: current.monthlyLimit }
            : { daily: null, weekly: null, monthly: null },
        );
        return row.firstPassDone ? undefined : "again";
      }
    }
  }

  /**
   * Flusher mode: apply a usage op whose Redis step failed, now that Redis answers. The op id makes it
   * at most once in Redis; a no-op outcome is written to PostgreSQL, consuming the outbox row in the
   * same transaction (so two workers cannot both write it).
   */
  private async replay(p: ParkedOp, outboxId: number | undefined): Promise<void> {
    const { cache, ledger, repo } = this.deps;
    if (!cache) throw new Error("no Redis");
    const o = { ttlSeconds: ledger.config.cacheTtlSeconds, markDirty: true, leaseMs: ledger.journalLeaseMs(p) };
    let op = p.op;
    let outcome = await withTimeout(
      cache.increment(p.userId, p.platform, p.cost, op, o),
      ledger.config.incrementTimeoutMs,
      "replay",
    );
    if (outcome === "seen-noop") {
      // The first delivery was a no-op whose recorder never learned it (no PostgreSQL write followed):
      // the cost is nowhere yet. Record it as a fresh op.
      op = ledger.ids.next();
      outcome = await withTimeout(
        cache.increment(p.userId, p.platform, p.cost, op, o),
        ledger.config.incrementTimeoutMs,
        "replay",
      );
    }
    if (outcome === "applied" || outcome === "seen-applied" || outcome === "seen-cancelled") return;
    if (outcome === "malformed") {
      // The hash is repaired in place and then flushed (repairKey): a PostgreSQL write now would be
      // overwritten by that snapshot. Retry (outbox backoff) once the repair has run.
      this.reportMalformed(p.userId, p.platform);
      throw new Error("quota hash malformed: the replay waits for its repair");
    }
    const parked: ParkedOp = { ...p, op, redis: outcome, leased: true };
    const w = await repo.incrementExactlyOnce({
      userId: p.userId,
      platform: p.platform,
      cost: p.cost,
      at: p.at,
      consumeOutboxId: outboxId,
    });
    if (w.status === "committed") {
      await ledger.settle(parked);
      return;
    }
    if (w.status === "skipped") return;
    if (w.status === "rejected") {
      this.dropRejected(parked, w.error);
      await ledger.settle(parked);
      await this.deps.pool.query("DELETE FROM cache_invalidation_outbox WHERE id = $1", [outboxId ?? -1]);
      return;
    }
    // Hand the PostgreSQL part to the journal (Redis answers), keeping the lease.
    if (w.status === "uncertain") parked.commit = w.commit;
    await ledger.journal(parked);
  }

  // ---- verification of rebuilt hashes (direct mode) ----

  /** Verifications still waiting (the chaos suite quiesces until none are left). */
  pendingVerifications(): number {
    return this.verifications.size;
  }

  private async runVerifications(force = false): Promise<number> {
    const { cache, repo, clock, metrics } = this.deps;
    if (!cache || this.verifications.size === 0) return 0;
    const now = Date.now();
    const due = [...this.verifications.values()].filter((v) => force || v.due[0] <= now).slice(0, 500);
    if (due.length === 0) return 0;
    const rows = await repo.getMany(due);
    const entries = await cache.readMany(due.map((v) => billingKeys.userPlatformQuota(v.userId, v.platform)));
    let healed = 0;
    for (const [i, v] of due.entries()) {
      v.due.shift();
      if (v.due.length === 0) this.verifications.delete(`${v.userId}:${v.platform}`);
      const row = rows.get(`${v.userId}:${v.platform}`);
      const e = entries[i];
      if (!row || !e || e.schemaVersion !== QUOTA_SCHEMA_VERSION) continue;
      const fresh = entryFromRow(row, clock, now);
      const behind = (a: number, b: number, sa: number | null, sb: number | null) =>
        sa !== null && sa === sb && a - b > 1e-9;
      if (
        behind(fresh.dailyUsage, e.dailyUsage, fresh.dailyWindowStart, e.dailyWindowStart) ||
        behind(fresh.weeklyUsage, e.weeklyUsage, fresh.weeklyWindowStart, e.weeklyWindowStart) ||
        behind(fresh.monthlyUsage, e.monthlyUsage, fresh.monthlyWindowStart, e.monthlyWindowStart)
      ) {
        await cache.invalidate(v.userId, v.platform);
        metrics.driftHealed++;
        healed++;
        this.deps.logger.warn("billing: a rebuilt quota hash missed a cost PostgreSQL has; dropped for a rebuild", {
          userId: v.userId,
          platform: v.platform,
        });
      }
    }
    return healed;
  }

  /** Run every queued verification now (tests and the chaos suite, after traffic stopped). */
  async verifyAllNow(): Promise<number> {
    let n = 0;
    while (this.verifications.size > 0) n += await this.runVerifications(true);
    return n;
  }

  // ---- flushers and malformed entries ----

  private async recoverFlushers(): Promise<number> {
    if (!this.deps.cache || Date.now() - this.lastRecovery < 5000) return 0;
    this.lastRecovery = Date.now();
    const n = await this.deps.cache.recoverDeadFlushers();
    if (n > 0) {
      this.deps.metrics.flushRecovered += n;
      this.deps.logger.warn("billing: members of a dead flusher were put back into the dirty set", { members: n });
    }
    return n;
  }

  private async repairMalformed(): Promise<number> {
    const { cache } = this.deps;
    if (!cache || this.malformed.size === 0) return 0;
    let n = 0;
    for (const [k, { userId, platform }] of [...this.malformed]) {
      this.malformed.delete(k);
      this.deps.ledger.malformedRepairing(userId, platform);
      await this.repairKey(userId, platform);
      n++;
    }
    this.deps.metrics.repairs += n;
    return n;
  }

  /**
   * Repair one quota hash from PostgreSQL. Direct mode: drop it (PostgreSQL holds every cost; the
   * next check rebuilds it). Flusher mode: rewrite only the malformed fields (each only if it still
   * holds the bytes seen), keeping the unflushed usage, and mark the key dirty.
   */
  async repairKey(userId: number, platform: string): Promise<"dropped" | "fields" | "clean"> {
    const { cache, repo, clock } = this.deps;
    if (!cache) return "clean";
    if (!this.deps.flusherEnabled) {
      await cache.invalidate(userId, platform);
      return "dropped";
    }
    const raw = await cache.raw(userId, platform);
    const decoded = decodeQuotaEntry(raw);
    if (!decoded?.malformed) return "clean";
    const row = await repo.getByUserPlatform(userId, platform);
    const now = Date.now();
    const fresh = row ? entryFromRow(row, clock, now) : sentinelEntry(clock, now);
    const value: Record<QuotaField, string> = {
      daily_usage: formatGoFloat(fresh.dailyUsage),
      weekly_usage: formatGoFloat(fresh.weeklyUsage),
      monthly_usage: formatGoFloat(fresh.monthlyUsage),
      version: "0",
      schema_version: formatGoInt(QUOTA_SCHEMA_VERSION),
      daily_limit: formatNullableFloat(fresh.dailyLimit),
      weekly_limit: formatNullableFloat(fresh.weeklyLimit),
      monthly_limit: formatNullableFloat(fresh.monthlyLimit),
      daily_window_start: formatNullableInstant(fresh.dailyWindowStart),
      weekly_window_start: formatNullableInstant(fresh.weeklyWindowStart),
      monthly_window_start: formatNullableInstant(fresh.monthlyWindowStart),
    };
    await cache.repairFields(
      userId,
      platform,
      decoded.malformed.map((field) => ({ field, seen: raw[field], value: value[field] })),
    );
    await cache.markDirty([billingKeys.dirtyMember(userId, platform)]);
    return "fields";
  }
}
