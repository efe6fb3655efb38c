import type Redis from "ioredis";

import {
  formatGoFloat,
  formatGoInt,
  formatNullableFloat,
  formatNullableInstant,
  readQuotaInstant,
  readQuotaUsage,
} from "./encoding";
import { billingKeys, ledgerKeys } from "./keys";
import {
  decodeQuotaEntry,
  DIRTY_SET_TTL_SECONDS,
  encodeQuotaEntry,
  FENCE_TTL_SECONDS,
  OP_MAP_TTL_SECONDS,
  QUOTA_FIELDS,
  QUOTA_SCHEMA_VERSION,
  type DecodedQuotaEntry,
  type QuotaCacheEntry,
  type QuotaField,
} from "./quota-entry";
import { LuaScript } from "./script";
import type { QuotaWindow } from "./vocabulary";

/**
 * The user × platform quota hash shared with the Go gateway (spec §6.1–§6.3):
 * `billing:user_platform_quota:{userID}:{platform}`, 11 fields, and the dirty set
 * `billing:upq:dirty`, plus the console-owned keys that make the ledger exact (lib/billing/keys.ts:
 * the fence hash, the op map, the journal, the flusher's processing sets). Field names, order,
 * encodings, TTLs and the increment's effect are the gateway's; tests/integration/billing-quota-cache
 * .test.ts pins the bytes. Every method throws on a Redis error; callers pick the policy.
 */
export {
  QUOTA_SCHEMA_VERSION,
  QUOTA_CACHE_TTL_SECONDS,
  QUOTA_SENTINEL_TTL_SECONDS,
  DIRTY_SET_TTL_SECONDS,
  FENCE_TTL_SECONDS,
  OP_MAP_TTL_SECONDS,
  QUOTA_FIELDS,
  encodeQuotaEntry,
  decodeQuotaEntry,
  decodeQuotaValues,
  entryHasAnyLimit,
  type QuotaCacheEntry,
  type DecodedQuotaEntry,
  type QuotaField,
} from "./quota-entry";

const SCRIPTS = {
  increment: LuaScript.load("quota-increment", 4),
  gatewayIncrement: LuaScript.load("gateway-increment", 2),
  setFenced: LuaScript.load("quota-set-fenced", 2),
  refresh: LuaScript.load("quota-refresh-windows", 1),
  invalidate: LuaScript.load("quota-invalidate", 3),
  release: LuaScript.load("quota-release", 2),
  lease: LuaScript.load("quota-lease", 2),
  adminApply: LuaScript.load("quota-admin-apply", 3),
  repairFields: LuaScript.load("quota-repair-fields", 1),
  journalAdd: LuaScript.load("journal-add", 4),
  journalClaim: LuaScript.load("journal-claim", 3),
  journalRenew: LuaScript.load("journal-renew", 3),
  flusherClaim: LuaScript.load("flusher-claim", 4),
  flusherRequeue: LuaScript.load("flusher-requeue", 2),
  flusherRecover: LuaScript.load("flusher-recover", 2),
} as const;

/** The scripts, for tests and benchmarks that run them raw. */
export const QUOTA_SCRIPTS = SCRIPTS;

export type WindowRefresh = { window: QuotaWindow; seenStart: number | null; newStart: number };

/** A usage op's identity: its index in an op map (2 bits per op) and its id (`{epoch}.{index}`). */
export type OpRef = { epoch: string; index: number; id: string };

/** What the increment script did (see lib/billing/lua/quota-increment.lua). */
export type IncrementOutcome = "applied" | "noop" | "malformed" | "seen-applied" | "seen-noop" | "seen-cancelled";
const INCREMENT_OUTCOMES: Record<number, IncrementOutcome> = {
  1: "applied",
  0: "noop",
  2: "malformed",
  11: "seen-applied",
  12: "seen-noop",
  13: "seen-cancelled",
};

export type FencedWrite = "written" | "exists" | "fenced-generation" | "fenced-lease";
const FENCED: Record<number, FencedWrite> = {
  1: "written",
  0: "exists",
  [-1]: "fenced-generation",
  [-2]: "fenced-lease",
};

export type LeaseDecision = "live" | "apply-to-redis" | "retaken";

export class QuotaCache {
  constructor(readonly redis: Redis) {}

  /** HGETALL; null on a miss. */
  async get(userId: number, platform: string): Promise<DecodedQuotaEntry | null> {
    return decodeQuotaEntry(await this.redis.hgetall(billingKeys.userPlatformQuota(userId, platform)));
  }

  /**
   * HMGET of the 11 fields of one quota key, as ioredis answers it (decode with decodeQuotaValues: the
   * same entry as `get`). The eligibility check awaits this promise itself: one async layer less on
   * the hot path than `get`.
   */
  readValues(userId: number, platform: string): Promise<Array<string | null>> {
    return this.redis.hmget(billingKeys.userPlatformQuota(userId, platform), ...QUOTA_FIELDS);
  }

  /** Pipelined HGETALL of many keys; a failed command yields undefined at its position. */
  async readMany(keys: string[]): Promise<Array<DecodedQuotaEntry | null | undefined>> {
    if (keys.length === 0) return [];
    const p = this.redis.pipeline();
    for (const k of keys) p.hgetall(k);
    const res = await p.exec();
    if (!res) throw new Error("pipeline aborted");
    return res.map(([err, h]) => (err ? undefined : decodeQuotaEntry(h as Record<string, string>)));
  }

  /**
   * readMany for read APIs, which never fail on Redis: every entry undefined when the pipeline fails
   * (the caller shows the database values instead).
   */
  async readManyLenient(keys: string[]): Promise<Array<DecodedQuotaEntry | null | undefined>> {
    return this.readMany(keys).catch(() => keys.map(() => undefined));
  }

  /** The raw bytes of one hash (for repairs and the drift report). */
  async raw(userId: number, platform: string): Promise<Record<string, string>> {
    return this.redis.hgetall(billingKeys.userPlatformQuota(userId, platform));
  }

  /** MULTI; HSET all 11 fields; EXPIRE ttl; EXEC — as the gateway's Set (unconditional). */
  async set(userId: number, platform: string, entry: QuotaCacheEntry, ttlSeconds: number): Promise<void> {
    const key = billingKeys.userPlatformQuota(userId, platform);
    await execOrThrow(
      this.redis
        .multi()
        .hset(key, ...encodeQuotaEntry(entry))
        .expire(key, ttlSeconds),
      "quota cache MULTI",
    );
  }

  /** The key's fence generation ("" when never moved): read before loading a row to rebuild from. */
  async fenceGeneration(userId: number, platform: string): Promise<string> {
    return (await this.redis.hget(ledgerKeys.fence(userId, platform), "gen")) ?? "";
  }

  /**
   * Write a rebuilt entry or a sentinel unless a current entry is there, the fence generation moved
   * since `expectedGeneration` was read, or a usage op holds a live lease (quota-set-fenced.lua).
   */
  async setFenced(
    userId: number,
    platform: string,
    entry: QuotaCacheEntry,
    ttlSeconds: number,
    expectedGeneration: string,
  ): Promise<FencedWrite> {
    const r = await SCRIPTS.setFenced.run(
      this.redis,
      [billingKeys.userPlatformQuota(userId, platform), ledgerKeys.fence(userId, platform)],
      [formatGoInt(ttlSeconds), formatGoInt(QUOTA_SCHEMA_VERSION), expectedGeneration, ...encodeQuotaEntry(entry)],
    );
    return FENCED[Number(r)];
  }

  /** DEL without fencing (tests and tools only; the ledger always invalidates). */
  async delete(userId: number, platform: string): Promise<void> {
    await this.redis.del(billingKeys.userPlatformQuota(userId, platform));
  }

  /**
   * Record one usage op (quota-increment.lua): the gateway's increment on a current entry, at most once
   * per op; a missing, legacy or malformed entry is left alone and the op takes a lease on the key.
   */
  async increment(
    userId: number,
    platform: string,
    cost: number,
    op: OpRef,
    o: { ttlSeconds: number; markDirty: boolean; leaseMs: number },
  ): Promise<IncrementOutcome> {
    const r = await SCRIPTS.increment.run(
      this.redis,
      [
        billingKeys.userPlatformQuota(userId, platform),
        billingKeys.dirtySet,
        ledgerKeys.ops(op.epoch),
        ledgerKeys.fence(userId, platform),
      ],
      [
        formatGoFloat(cost),
        formatGoInt(o.ttlSeconds),
        formatGoInt(QUOTA_SCHEMA_VERSION),
        o.markDirty ? billingKeys.dirtyMember(userId, platform) : "",
        formatGoInt(DIRTY_SET_TTL_SECONDS),
        formatGoInt(op.index),
        op.id,
        formatGoInt(o.leaseMs),
        formatGoInt(FENCE_TTL_SECONDS),
        formatGoInt(OP_MAP_TTL_SECONDS),
      ],
    );
    const outcome = INCREMENT_OUTCOMES[Number(r)];
    if (!outcome) throw new Error(`quota-increment returned ${String(r)}`);
    return outcome;
  }

  /** What became of an op (0 unseen, 1 applied, 2 no-op, 3 cancelled) — for the drift report and tests. */
  async opState(op: Pick<OpRef, "epoch" | "index">): Promise<number> {
    const r = (await this.redis.bitfield(ledgerKeys.ops(op.epoch), "GET", "u2", `#${op.index}`)) as number[];
    return Number(r[0]);
  }

  /**
   * Drop the hash and move the fence generation (quota-invalidate.lua); with an op, cancel it first if
   * it was never seen. Returns the op's previous state, or -1 without an op.
   */
  async invalidate(userId: number, platform: string, op?: Pick<OpRef, "epoch" | "index" | "id">): Promise<number> {
    const r = await SCRIPTS.invalidate.run(
      this.redis,
      [
        billingKeys.userPlatformQuota(userId, platform),
        ledgerKeys.fence(userId, platform),
        op ? ledgerKeys.ops(op.epoch) : ledgerKeys.ops("none"),
      ],
      [op ? formatGoInt(op.index) : "", op?.id ?? "", formatGoInt(FENCE_TTL_SECONDS)],
    );
    return Number(r);
  }

  /** An op's PostgreSQL write committed: release its lease (quota-release.lua). */
  async release(
    userId: number,
    platform: string,
    opId: string,
    directMode: boolean,
  ): Promise<"released" | "expired" | "expired-dropped"> {
    const r = Number(
      await SCRIPTS.release.run(
        this.redis,
        [billingKeys.userPlatformQuota(userId, platform), ledgerKeys.fence(userId, platform)],
        [opId, directMode ? "1" : "0", formatGoInt(FENCE_TTL_SECONDS)],
      ),
    );
    return r === 1 ? "released" : r === 2 ? "expired-dropped" : "expired";
  }

  /** Before writing a parked op to PostgreSQL: is its lease still live (quota-lease.lua)? */
  async ensureLease(
    userId: number,
    platform: string,
    opId: string,
    leaseMs: number,
    preferRedis: boolean,
  ): Promise<LeaseDecision> {
    const r = Number(
      await SCRIPTS.lease.run(
        this.redis,
        [billingKeys.userPlatformQuota(userId, platform), ledgerKeys.fence(userId, platform)],
        [
          opId,
          formatGoInt(leaseMs),
          formatGoInt(FENCE_TTL_SECONDS),
          formatGoInt(QUOTA_SCHEMA_VERSION),
          preferRedis ? "redis-if-present" : "pg",
        ],
      ),
    );
    return r === 1 ? "live" : r === 2 ? "apply-to-redis" : "retaken";
  }

  /** Reset the given expired windows if nobody else did since they were read; returns how many. */
  async refreshWindows(
    userId: number,
    platform: string,
    refresh: readonly WindowRefresh[],
    ttlSeconds: number,
  ): Promise<number> {
    const args: string[] = [formatGoInt(QUOTA_SCHEMA_VERSION), formatGoInt(ttlSeconds)];
    for (const w of ["daily", "weekly", "monthly"] as const) {
      const r = refresh.find((x) => x.window === w);
      args.push(r ? formatNullableInstant(r.seenStart) : "-", r ? formatNullableInstant(r.newStart) : "-");
    }
    return Number(await SCRIPTS.refresh.run(this.redis, [billingKeys.userPlatformQuota(userId, platform)], args));
  }

  /** Flusher mode: rewrite the limits of a current entry in place (and fence older rebuilds). */
  async applyLimits(
    userId: number,
    platform: string,
    limits: { daily: number | null; weekly: number | null; monthly: number | null },
  ): Promise<boolean> {
    const r = await SCRIPTS.adminApply.run(this.redis, this.adminKeys(userId, platform), [
      "limits",
      formatGoInt(QUOTA_SCHEMA_VERSION),
      formatGoInt(FENCE_TTL_SECONDS),
      formatNullableFloat(limits.daily),
      formatNullableFloat(limits.weekly),
      formatNullableFloat(limits.monthly),
    ]);
    return Number(r) === 1;
  }

  /** Flusher mode: reset one window in place, at most once per reset id; marks the key dirty. */
  async applyReset(
    userId: number,
    platform: string,
    window: QuotaWindow,
    newStart: number,
    resetId: string,
  ): Promise<"applied" | "absent" | "already"> {
    const r = Number(
      await SCRIPTS.adminApply.run(this.redis, this.adminKeys(userId, platform), [
        "reset",
        formatGoInt(QUOTA_SCHEMA_VERSION),
        formatGoInt(FENCE_TTL_SECONDS),
        window,
        formatNullableInstant(newStart),
        resetId,
        billingKeys.dirtyMember(userId, platform),
        formatGoInt(DIRTY_SET_TTL_SECONDS),
      ]),
    );
    return r === 1 ? "applied" : r === 2 ? "already" : "absent";
  }

  /**
   * Flusher mode: the key now stands for another row (or none): write `entry` and return the usage
   * and windows of the entry it replaced (null when there was no current entry — nothing is written then).
   */
  async replace(
    userId: number,
    platform: string,
    entry: QuotaCacheEntry,
    ttlSeconds: number,
  ): Promise<{ usage: [number, number, number]; starts: [number | null, number | null, number | null] } | null> {
    const r = (await SCRIPTS.adminApply.run(this.redis, this.adminKeys(userId, platform), [
      "replace",
      formatGoInt(QUOTA_SCHEMA_VERSION),
      formatGoInt(FENCE_TTL_SECONDS),
      formatGoInt(ttlSeconds),
      ...encodeQuotaEntry(entry),
    ])) as Array<string | null>;
    if (!Array.isArray(r) || r.length === 0) return null;
    const s = (i: number) => r[i] ?? undefined;
    return {
      usage: [readQuotaUsage(s(0)).value, readQuotaUsage(s(1)).value, readQuotaUsage(s(2)).value],
      starts: [readQuotaInstant(s(3)).value, readQuotaInstant(s(4)).value, readQuotaInstant(s(5)).value],
    };
  }

  /** Overwrite malformed fields, each only if it still holds the bytes seen (flusher-mode repair). */
  async repairFields(
    userId: number,
    platform: string,
    fixes: Array<{ field: QuotaField; seen: string | undefined; value: string }>,
  ): Promise<number> {
    const args = fixes.flatMap((f) => [f.field, f.seen ?? "\u0000absent", f.value]);
    return Number(await SCRIPTS.repairFields.run(this.redis, [billingKeys.userPlatformQuota(userId, platform)], args));
  }

  private adminKeys(userId: number, platform: string): string[] {
    return [billingKeys.userPlatformQuota(userId, platform), ledgerKeys.fence(userId, platform), billingKeys.dirtySet];
  }

  // ---- journal of ops whose PostgreSQL write is not confirmed (drained by the repairer) ----

  /** Park an op; with `lease`, take or extend its lease on the key in the same step. */
  async journalAdd(
    op: { id: string; userId: number; platform: string },
    payload: string,
    delayMs: number,
    lease: { ms: number } | null,
  ): Promise<void> {
    await SCRIPTS.journalAdd.run(
      this.redis,
      [ledgerKeys.journal, ledgerKeys.journalOps, ledgerKeys.fence(op.userId, op.platform), ledgerKeys.journalClaims],
      [
        op.id,
        payload,
        formatGoInt(Math.max(0, Math.round(delayMs))),
        lease ? "1" : "0",
        formatGoInt(lease?.ms ?? 0),
        formatGoInt(FENCE_TTL_SECONDS),
      ],
    );
  }

  /** Claim up to n due journal entries for `claimMs` under `token` (journal-claim.lua). */
  async journalClaim(n: number, claimMs: number, token: string): Promise<Array<{ id: string; payload: string }>> {
    const flat = (await SCRIPTS.journalClaim.run(
      this.redis,
      [ledgerKeys.journal, ledgerKeys.journalOps, ledgerKeys.journalClaims],
      [formatGoInt(n), formatGoInt(claimMs), token],
    )) as string[];
    const out: Array<{ id: string; payload: string }> = [];
    for (let i = 0; i < flat.length; i += 2) out.push({ id: flat[i], payload: flat[i + 1] });
    return out;
  }

  /** Extend this repairer's claim on an entry before writing it; null when the claim is lost (journal-renew.lua). */
  async journalRenew(id: string, token: string, claimMs: number): Promise<string | null> {
    const r = await SCRIPTS.journalRenew.run(
      this.redis,
      [ledgerKeys.journal, ledgerKeys.journalOps, ledgerKeys.journalClaims],
      [id, token, formatGoInt(claimMs)],
    );
    return typeof r === "string" ? r : null;
  }

  /** Drop a journal entry once its op is settled. */
  async journalDone(id: string): Promise<void> {
    await execOrThrow(
      this.redis
        .multi()
        .zrem(ledgerKeys.journal, id)
        .hdel(ledgerKeys.journalOps, id)
        .hdel(ledgerKeys.journalClaims, id),
      "journal done",
    );
  }

  async journalSize(): Promise<number> {
    return this.redis.zcard(ledgerKeys.journal);
  }

  // ---- dirty set and the crash-safe flusher ----

  /** SPOP up to n dirty members into this flusher's processing set (flusher-claim.lua). */
  async claimDirty(flusherId: string, n: number, heartbeatMs: number): Promise<string[]> {
    const r = await SCRIPTS.flusherClaim.run(
      this.redis,
      [
        billingKeys.dirtySet,
        ledgerKeys.flushing(flusherId),
        ledgerKeys.flusherHeartbeat(flusherId),
        ledgerKeys.flushers,
      ],
      [formatGoInt(n), flusherId, formatGoInt(heartbeatMs), formatGoInt(DIRTY_SET_TTL_SECONDS)],
    );
    return Array.isArray(r) ? (r as string[]) : [];
  }

  /** Members committed to PostgreSQL leave the processing set (and the flush is time-stamped for /api/health). */
  async flushedDone(flusherId: string, members: string[]): Promise<void> {
    const p = this.redis.pipeline().set(ledgerKeys.lastFlush, String(Date.now()), "EX", 7 * 86400);
    if (members.length) p.srem(ledgerKeys.flushing(flusherId), ...members);
    await execOrThrow(p, "flush done");
  }

  /** Put members back into the dirty set (SADD + EXPIRE 86400) and out of the processing set. */
  async requeueDirty(flusherId: string, members: string[]): Promise<void> {
    if (members.length === 0) return;
    await SCRIPTS.flusherRequeue.run(
      this.redis,
      [billingKeys.dirtySet, ledgerKeys.flushing(flusherId)],
      [formatGoInt(DIRTY_SET_TTL_SECONDS), ...members],
    );
  }

  /** Put back whatever is left in this flusher's own processing set (a requeue that failed earlier). */
  async requeueOwn(flusherId: string): Promise<number> {
    const left = await this.redis.smembers(ledgerKeys.flushing(flusherId));
    await this.requeueDirty(flusherId, left);
    return left.length;
  }

  /** Give the members of every flusher whose heartbeat expired back to the dirty set. */
  async recoverDeadFlushers(): Promise<number> {
    return Number(
      await SCRIPTS.flusherRecover.run(
        this.redis,
        [ledgerKeys.flushers, billingKeys.dirtySet],
        [ledgerKeys.flusherHeartbeat(""), ledgerKeys.flushing(""), formatGoInt(DIRTY_SET_TTL_SECONDS)],
      ),
    );
  }

  /** Stop heartbeating: the flusher is gone for good (its processing set must be empty). */
  async retireFlusher(flusherId: string): Promise<void> {
    await execOrThrow(
      this.redis.multi().del(ledgerKeys.flusherHeartbeat(flusherId)).srem(ledgerKeys.flushers, flusherId),
      "retire flusher",
    );
  }

  /** Mark keys dirty (SADD + EXPIRE 86400), e.g. to have the flusher write a repaired key. */
  async markDirty(members: string[]): Promise<void> {
    if (members.length === 0) return;
    await execOrThrow(
      this.redis
        .pipeline()
        .sadd(billingKeys.dirtySet, ...members)
        .expire(billingKeys.dirtySet, DIRTY_SET_TTL_SECONDS),
      "mark dirty",
    );
  }
}

/** Run a MULTI or pipeline and throw its first command error (ioredis reports them per command). */
export async function execOrThrow(
  p: { exec(): Promise<Array<[Error | null, unknown]> | null> },
  what: string,
): Promise<Array<[Error | null, unknown]>> {
  const res = await p.exec();
  const failed = res?.find(([err]) => err);
  if (!res || failed) throw failed?.[0] ?? new Error(`${what} aborted`);
  return res;
}
