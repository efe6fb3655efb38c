import type Redis from "ioredis";

import {
  canonicalDecimal,
  canonicalSmallInt,
  formatGoFloat,
  formatGoInt,
  formatNullableFloat,
  formatNullableInstant,
  readQuotaInstant,
  readQuotaInt,
  readQuotaLimit,
  readQuotaUsage,
} from "./encoding";
import { billingKeys, ledgerKeys } from "./keys";
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
export const QUOTA_SCHEMA_VERSION = 1;
export const QUOTA_CACHE_TTL_SECONDS = 86400;
export const QUOTA_SENTINEL_TTL_SECONDS = 3600;
export const DIRTY_SET_TTL_SECONDS = 86400;
/** Fence hashes outlive any rebuild in flight (a load is bounded by seconds) by a wide margin. */
export const FENCE_TTL_SECONDS = 86400;
/** Op maps outlive the longest time an op can stay unresolved in the journal or the outbox. */
export const OP_MAP_TTL_SECONDS = 172800;

export type QuotaCacheEntry = {
  dailyUsage: number;
  weeklyUsage: number;
  monthlyUsage: number;
  version: number;
  schemaVersion: number;
  dailyLimit: number | null;
  weeklyLimit: number | null;
  monthlyLimit: number | null;
  /** Epoch ms (whole seconds, as stored), or null. */
  dailyWindowStart: number | null;
  weeklyWindowStart: number | null;
  monthlyWindowStart: number | null;
};

/** An entry as read: the values Go's reader would see, plus the fields whose bytes are not what any legitimate writer produces. */
export type DecodedQuotaEntry = QuotaCacheEntry & { malformed: readonly QuotaField[] | null };

/** The 11 fields in the order the gateway's HSET writes them. */
export const QUOTA_FIELDS = [
  "daily_usage",
  "weekly_usage",
  "monthly_usage",
  "version",
  "schema_version",
  "daily_limit",
  "weekly_limit",
  "monthly_limit",
  "daily_window_start",
  "weekly_window_start",
  "monthly_window_start",
] as const;
export type QuotaField = (typeof QUOTA_FIELDS)[number];

/** HSET arguments (field, value, …) exactly as Go's SetUserPlatformQuotaCache writes them. */
export function encodeQuotaEntry(e: QuotaCacheEntry): string[] {
  for (const u of [e.dailyUsage, e.weeklyUsage, e.monthlyUsage]) {
    // The increment script has no rollback: a non-numeric usage would break it half-way.
    if (!Number.isFinite(u)) throw new Error(`quota usage must be finite, got ${u}`);
  }
  return [
    "daily_usage",
    formatGoFloat(e.dailyUsage),
    "weekly_usage",
    formatGoFloat(e.weeklyUsage),
    "monthly_usage",
    formatGoFloat(e.monthlyUsage),
    "version",
    formatGoInt(e.version),
    "schema_version",
    formatGoInt(e.schemaVersion),
    "daily_limit",
    formatNullableFloat(e.dailyLimit),
    "weekly_limit",
    formatNullableFloat(e.weeklyLimit),
    "monthly_limit",
    formatNullableFloat(e.monthlyLimit),
    "daily_window_start",
    formatNullableInstant(e.dailyWindowStart),
    "weekly_window_start",
    formatNullableInstant(e.weeklyWindowStart),
    "monthly_window_start",
    formatNullableInstant(e.monthlyWindowStart),
  ];
}

/**
 * HGETALL result → the entry exactly as Go's reader builds it (upstream parseUserPlatformQuotaHash:
 * unparsable usage → 0, unparsable limit → nil, unparsable instant → nil, `n, _ := ParseInt`), so
 * both sides decide alike; an empty hash is a miss (null). Bytes no legitimate writer produces are
 * listed in `malformed`, so the caller can count and repair them.
 */
export function decodeQuotaEntry(h: Record<string, string>): DecodedQuotaEntry | null {
  // Go reads with HGETALL: any non-empty hash is a hit (a legacy one is rejected by schemaVersion).
  if (isEmpty(h)) return null;
  return decodeFields(
    h.daily_usage,
    h.weekly_usage,
    h.monthly_usage,
    h.version,
    h.schema_version,
    h.daily_limit,
    h.weekly_limit,
    h.monthly_limit,
    h.daily_window_start,
    h.weekly_window_start,
    h.monthly_window_start,
  );
}

/**
 * HMGET of the 11 fields (in QUOTA_FIELDS order) → the same entry decodeQuotaEntry makes of that
 * hash's HGETALL. All 11 nil is a miss (null): the key is absent, or holds none of the gateway's
 * fields — which upstream's HGETALL reads as a legacy hit (schema_version 0), and handles exactly as
 * a miss (spec §5.2 step 3). The eligibility check reads this way: Redis and ioredis answer an
 * HMGET without building a field-name map, so the hot path costs less than a raw HGETALL.
 */
export function decodeQuotaValues(v: ReadonlyArray<string | null>): DecodedQuotaEntry | null {
  let any = false;
  for (let n = 0; n < QUOTA_FIELDS.length; n++) if (v[n] !== null && v[n] !== undefined) any = true;
  if (!any) return null;
  const f = (n: number) => v[n] ?? undefined;
  return decodeFields(f(0), f(1), f(2), f(3), f(4), f(5), f(6), f(7), f(8), f(9), f(10));
}

/** The 11 fields (undefined = absent) → the entry, as Go reads them. */
function decodeFields(
  a: string | undefined,
  b: string | undefined,
  c: string | undefined,
  d: string | undefined,
  e: string | undefined,
  f: string | undefined,
  g: string | undefined,
  i: string | undefined,
  j: string | undefined,
  k: string | undefined,
  l: string | undefined,
): DecodedQuotaEntry {
  // The hot path: every field in the canonical form a legitimate writer produces (NaN = not canonical;
  // those bytes take Go's full readers below, which give the same value for a canonical field).
  if (a !== undefined && b !== undefined && c !== undefined && d !== undefined && e !== undefined) {
    if (
      f !== undefined &&
      g !== undefined &&
      i !== undefined &&
      j !== undefined &&
      k !== undefined &&
      l !== undefined
    ) {
      const du = canonicalDecimal(a, true);
      const wu = canonicalDecimal(b, true);
      const mu = canonicalDecimal(c, true);
      const ver = canonicalSmallInt(d);
      const sv = canonicalSmallInt(e);
      const dl = f === "" ? null : canonicalDecimal(f, false);
      const wl = g === "" ? null : canonicalDecimal(g, false);
      const ml = i === "" ? null : canonicalDecimal(i, false);
      const ds = j === "" ? null : canonicalSmallInt(j) * 1000;
      const ws = k === "" ? null : canonicalSmallInt(k) * 1000;
      const ms = l === "" ? null : canonicalSmallInt(l) * 1000;
      // NaN !== NaN: one comparison per field tells canonical from not.
      if (
        du === du &&
        wu === wu &&
        mu === mu &&
        ver === ver &&
        sv === sv &&
        dl === dl &&
        wl === wl &&
        ml === ml &&
        ds === ds &&
        ws === ws &&
        ms === ms
      ) {
        return {
          dailyUsage: du,
          weeklyUsage: wu,
          monthlyUsage: mu,
          version: ver,
          schemaVersion: sv,
          dailyLimit: dl,
          weeklyLimit: wl,
          monthlyLimit: ml,
          dailyWindowStart: ds,
          weeklyWindowStart: ws,
          monthlyWindowStart: ms,
          malformed: null,
        };
      }
    }
  }
  let bad: QuotaField[] | null = null;
  const mark = (field: QuotaField) => (bad ??= []).push(field);
  const du = readQuotaUsage(a);
  if (du.malformed) mark("daily_usage");
  const wu = readQuotaUsage(b);
  if (wu.malformed) mark("weekly_usage");
  const mu = readQuotaUsage(c);
  if (mu.malformed) mark("monthly_usage");
  const ver = readQuotaInt(d);
  if (ver.malformed) mark("version");
  const sv = readQuotaInt(e);
  if (sv.malformed) mark("schema_version");
  const dl = readQuotaLimit(f);
  if (dl.malformed) mark("daily_limit");
  const wl = readQuotaLimit(g);
  if (wl.malformed) mark("weekly_limit");
  const ml = readQuotaLimit(i);
  if (ml.malformed) mark("monthly_limit");
  const ds = readQuotaInstant(j);
  if (ds.malformed) mark("daily_window_start");
  const ws = readQuotaInstant(k);
  if (ws.malformed) mark("weekly_window_start");
  const ms = readQuotaInstant(l);
  if (ms.malformed) mark("monthly_window_start");
  return {
    dailyUsage: du.value,
    weeklyUsage: wu.value,
    monthlyUsage: mu.value,
    version: ver.value,
    schemaVersion: sv.value,
    dailyLimit: dl.value,
    weeklyLimit: wl.value,
    monthlyLimit: ml.value,
    dailyWindowStart: ds.value,
    weeklyWindowStart: ws.value,
    monthlyWindowStart: ms.value,
    malformed: bad,
  };
}

function isEmpty(h: Record<string, string>): boolean {
  for (const k in h) if (Object.prototype.hasOwnProperty.call(h, k)) return false;
  return true;
}

/**
 * hasAnyLimit (lib/billing/vocabulary.ts) for an entry or row, whose limits are flat fields: false
 * for a sentinel, which has none. Compared in place: the eligibility check calls it per request.
 */
export function entryHasAnyLimit(e: Pick<QuotaCacheEntry, "dailyLimit" | "weeklyLimit" | "monthlyLimit">): boolean {
  return e.dailyLimit !== null || e.weeklyLimit !== null || e.monthlyLimit !== null;
}

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
