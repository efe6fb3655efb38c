import type Redis from "ioredis";
import { billingKeys } from "@/lib/redis/keys";
import {
  formatGoFloat,
  formatGoInt,
  formatNullableFloat,
  formatNullableInstant,
  parseIntField,
  parseLimit,
  parseUnixSeconds,
  parseUsage,
} from "./encoding";
import { LuaScript } from "./script";
import type { Window } from "./windows";

/**
 * The user × platform quota hash shared with the Go gateway (spec §6.1–§6.3):
 * `billing:user_platform_quota:{userID}:{platform}`, 11 fields, and the dirty set
 * `billing:upq:dirty`. Field names, order, encodings, TTLs and the increment script's guards are
 * the gateway's; tests/integration/billing-quota-cache.test.ts pins the bytes.
 */
export const QUOTA_SCHEMA_VERSION = 1;
export const QUOTA_CACHE_TTL_SECONDS = 86400;
export const QUOTA_SENTINEL_TTL_SECONDS = 3600;
export const DIRTY_SET_TTL_SECONDS = 86400;

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

/** HSET arguments (field, value, …) exactly as Go's SetUserPlatformQuotaCache writes them. */
export function encodeQuotaEntry(e: QuotaCacheEntry): string[] {
  for (const u of [e.dailyUsage, e.weeklyUsage, e.monthlyUsage]) {
    // The increment script has no rollback: a non-numeric usage would break it half-way.
    if (!Number.isFinite(u)) throw new Error(`quota usage must be finite, got ${u}`);
  }
  return [
    "daily_usage", formatGoFloat(e.dailyUsage),
    "weekly_usage", formatGoFloat(e.weeklyUsage),
    "monthly_usage", formatGoFloat(e.monthlyUsage),
    "version", formatGoInt(e.version),
    "schema_version", formatGoInt(e.schemaVersion),
    "daily_limit", formatNullableFloat(e.dailyLimit),
    "weekly_limit", formatNullableFloat(e.weeklyLimit),
    "monthly_limit", formatNullableFloat(e.monthlyLimit),
    "daily_window_start", formatNullableInstant(e.dailyWindowStart),
    "weekly_window_start", formatNullableInstant(e.weeklyWindowStart),
    "monthly_window_start", formatNullableInstant(e.monthlyWindowStart),
  ];
}

/** HGETALL result → entry as Go's reader builds it; an empty hash is a miss (null). */
export function decodeQuotaEntry(h: Record<string, string>): QuotaCacheEntry | null {
  // U reads with HGETALL: any non-empty hash is a hit (a legacy one is rejected by schemaVersion).
  if (Object.keys(h).length === 0) return null;
  return {
    dailyUsage: parseUsage(h.daily_usage),
    weeklyUsage: parseUsage(h.weekly_usage),
    monthlyUsage: parseUsage(h.monthly_usage),
    version: parseIntField(h.version),
    schemaVersion: parseIntField(h.schema_version),
    dailyLimit: parseLimit(h.daily_limit),
    weeklyLimit: parseLimit(h.weekly_limit),
    monthlyLimit: parseLimit(h.monthly_limit),
    dailyWindowStart: parseUnixSeconds(h.daily_window_start),
    weeklyWindowStart: parseUnixSeconds(h.weekly_window_start),
    monthlyWindowStart: parseUnixSeconds(h.monthly_window_start),
  };
}

/** True when at least one window has a limit (a sentinel has none). */
export function hasAnyLimit(e: Pick<QuotaCacheEntry, "dailyLimit" | "weeklyLimit" | "monthlyLimit">): boolean {
  return e.dailyLimit !== null || e.weeklyLimit !== null || e.monthlyLimit !== null;
}

// The gateway's increment (spec §6.2): EXISTS guard, schema guard, three HINCRBYFLOAT, HINCRBY
// version, EXPIRE, optional SADD + EXPIRE of the dirty set. No window logic.
const INCREMENT = new LuaScript(
  "quotaIncrement",
  `if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local schema = redis.call('HGET', KEYS[1], 'schema_version')
if not schema or tonumber(schema) ~= tonumber(ARGV[3]) then
  return 0
end
redis.call('HINCRBYFLOAT', KEYS[1], 'daily_usage', ARGV[1])
redis.call('HINCRBYFLOAT', KEYS[1], 'weekly_usage', ARGV[1])
redis.call('HINCRBYFLOAT', KEYS[1], 'monthly_usage', ARGV[1])
redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('EXPIRE', KEYS[1], ARGV[2])
if ARGV[4] ~= '' then
  redis.call('SADD', KEYS[2], ARGV[4])
  redis.call('EXPIRE', KEYS[2], ARGV[5])
end
return 1`,
  2,
);

// Our window refresh (DESIGN §3.1). The gateway re-writes the whole hash after a read, which can
// wipe an increment that landed in between. This resets only the windows that are still exactly as
// the check saw them (same start string), atomically, so no concurrent increment is lost; the
// resulting bytes are what the gateway's refresh writes for those fields (usage "0", new start,
// version "0", TTL reset). ARGV: schema, ttl, then (seenStart, newStart | "-") per window.
const REFRESH = new LuaScript(
  "quotaRefreshWindows",
  `if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local schema = redis.call('HGET', KEYS[1], 'schema_version')
if not schema or tonumber(schema) ~= tonumber(ARGV[1]) then
  return 0
end
local changed = 0
local windows = {'daily', 'weekly', 'monthly'}
for i = 1, 3 do
  local fresh = ARGV[2 + i * 2]
  if fresh ~= '-' then
    local field = windows[i] .. '_window_start'
    local current = redis.call('HGET', KEYS[1], field) or ''
    if current == ARGV[1 + i * 2] then
      redis.call('HSET', KEYS[1], windows[i] .. '_usage', '0', field, fresh)
      changed = changed + 1
    end
  end
end
if changed > 0 then
  redis.call('HSET', KEYS[1], 'version', '0')
  redis.call('EXPIRE', KEYS[1], ARGV[2])
end
return changed`,
  1,
);

// Rebuild / sentinel write that never clobbers a current entry (better than upstream): the gateway
// overwrites unconditionally, so when two checks rebuild the same key the second write wipes the
// increments recorded after the first. A missing or legacy entry is written exactly as Set writes
// it (11 fields in order, then EXPIRE). ARGV: ttl, schema, then the 22 field/value arguments.
const SET_IF_ABSENT = new LuaScript(
  "quotaSetIfAbsent",
  `local schema = redis.call('HGET', KEYS[1], 'schema_version')
if schema and tonumber(schema) == tonumber(ARGV[2]) then
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1`,
  1,
);

export type WindowRefresh = { window: Window; seenStart: number | null; newStart: number };

/** Redis access for quota hashes. Every method throws on a Redis error; callers pick the policy. */
export class QuotaCache {
  constructor(readonly redis: Redis) {}

  /** HGETALL; null on a miss. */
  async get(userId: number, platform: string): Promise<QuotaCacheEntry | null> {
    return decodeQuotaEntry(await this.redis.hgetall(billingKeys.userPlatformQuota(userId, platform)));
  }

  /** MULTI; HSET all 11 fields; EXPIRE ttl; EXEC — as the gateway's Set. */
  async set(userId: number, platform: string, entry: QuotaCacheEntry, ttlSeconds: number): Promise<void> {
    const key = billingKeys.userPlatformQuota(userId, platform);
    const res = await this.redis.multi().hset(key, ...encodeQuotaEntry(entry)).expire(key, ttlSeconds).exec();
    const failed = res?.find(([err]) => err);
    if (!res || failed) throw failed?.[0] ?? new Error("quota cache MULTI aborted");
  }

  /** Write the entry unless a current-schema entry is already there; true when written. */
  async setIfAbsent(userId: number, platform: string, entry: QuotaCacheEntry, ttlSeconds: number): Promise<boolean> {
    const r = await SET_IF_ABSENT.run(
      this.redis,
      [billingKeys.userPlatformQuota(userId, platform)],
      [formatGoInt(ttlSeconds), formatGoInt(QUOTA_SCHEMA_VERSION), ...encodeQuotaEntry(entry)],
    );
    return r === 1;
  }

  async delete(userId: number, platform: string): Promise<void> {
    await this.redis.del(billingKeys.userPlatformQuota(userId, platform));
  }

  /** The gateway's increment; true when applied, false on a missing or legacy entry (no-op). */
  async increment(userId: number, platform: string, cost: number, ttlSeconds: number, markDirty: boolean): Promise<boolean> {
    const r = await INCREMENT.run(
      this.redis,
      [billingKeys.userPlatformQuota(userId, platform), billingKeys.dirtySet],
      [
        formatGoFloat(cost),
        formatGoInt(ttlSeconds),
        formatGoInt(QUOTA_SCHEMA_VERSION),
        markDirty ? billingKeys.dirtyMember(userId, platform) : "",
        formatGoInt(DIRTY_SET_TTL_SECONDS),
      ],
    );
    return r === 1;
  }

  /** Reset the given expired windows if nobody else did since they were read; returns how many. */
  async refreshWindows(userId: number, platform: string, refresh: WindowRefresh[], ttlSeconds: number): Promise<number> {
    const args: string[] = [formatGoInt(QUOTA_SCHEMA_VERSION), formatGoInt(ttlSeconds)];
    for (const w of ["daily", "weekly", "monthly"] as const) {
      const r = refresh.find((x) => x.window === w);
      args.push(r ? formatNullableInstant(r.seenStart) : "-", r ? formatNullableInstant(r.newStart) : "-");
    }
    return Number(await REFRESH.run(this.redis, [billingKeys.userPlatformQuota(userId, platform)], args));
  }

  /** SPOP up to n dirty members. */
  async popDirty(n: number): Promise<string[]> {
    const r = await this.redis.spop(billingKeys.dirtySet, n);
    return Array.isArray(r) ? r : r ? [r] : [];
  }

  /** Pipelined HGETALL of many keys; a failed command yields undefined at its position. */
  async readMany(keys: string[]): Promise<Array<QuotaCacheEntry | null | undefined>> {
    const p = this.redis.pipeline();
    for (const k of keys) p.hgetall(k);
    const res = await p.exec();
    if (!res) throw new Error("pipeline aborted");
    return res.map(([err, h]) => (err ? undefined : decodeQuotaEntry(h as Record<string, string>)));
  }

  /** Put members back into the dirty set (pipeline SADD + EXPIRE 86400), as the flusher does. */
  async reAddDirty(members: string[]): Promise<void> {
    if (members.length === 0) return;
    const res = await this.redis.pipeline().sadd(billingKeys.dirtySet, ...members).expire(billingKeys.dirtySet, DIRTY_SET_TTL_SECONDS).exec();
    const failed = res?.find(([err]) => err);
    if (!res || failed) throw failed?.[0] ?? new Error("re-add pipeline aborted");
  }
}
