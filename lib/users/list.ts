import "server-only";

import type Redis from "ioredis";
import type pg from "pg";
import { z } from "zod";

import { AUTH_SOURCES } from "@/lib/auth-sources";
import { PLATFORMS } from "@/lib/billing/platforms";
import { QuotaCache, type QuotaCacheEntry } from "@/lib/billing/quota-cache";
import type { QuotaRow } from "@/lib/billing/quota-repo";
import { adminQuotaItem, type AdminQuotaItem } from "@/lib/billing/quota-view";
import type { QuotaClock } from "@/lib/billing/windows";
import { pgPool } from "@/lib/db/client";
import { appBilling } from "@/lib/quota/runtime";
import { redis } from "@/lib/redis/client";
import { billingKeys } from "@/lib/redis/keys";

import type { UserDto } from "./users";

/**
 * Control characters (NUL above all: PostgreSQL refuses it in text, 22021) and lone surrogates
 * cannot be part of an address or a name; the search ignores them rather than failing the page.
 */
const UNSEARCHABLE = /[\p{Cc}\p{Cs}]/gu;

/** The users list's state, read from the URL (`?q=&role=&status=&source=&limit=1&over80=1&sort=&dir=&page=`). */
export const UserListParamsSchema = z.object({
  q: z
    .string()
    .transform((s) => s.replace(UNSEARCHABLE, "").trim())
    .pipe(z.string().max(100))
    .catch(""),
  role: z.enum(["", "admin", "user"]).catch(""),
  status: z.enum(["", "active", "disabled"]).catch(""),
  source: z.enum(["", ...AUTH_SOURCES]).catch(""),
  limit: z.enum(["", "1"]).catch(""),
  over80: z.enum(["", "1"]).catch(""),
  sort: z.enum(["created", "email", "balance"]).catch("created"),
  dir: z.enum(["asc", "desc"]).catch("desc"),
  page: z.coerce.number().int().min(1).max(100_000).catch(1),
});
export type UserListParams = z.infer<typeof UserListParamsSchema>;

export type UserListRow = UserDto & { quotas: AdminQuotaItem[] };

export const USER_PAGE_SIZE = 50;

const ORDER = {
  created: { asc: "created_at ASC, id ASC", desc: "created_at DESC, id DESC" },
  email: { asc: "lower(email) ASC, id ASC", desc: "lower(email) DESC, id DESC" },
  balance: { asc: "balance ASC, id ASC", desc: "balance DESC, id DESC" },
} as const;

type QuotaJson = {
  id: number;
  platform: string;
  dl: number | null;
  wl: number | null;
  ml: number | null;
  du: number;
  wu: number;
  mu: number;
  ds: string | null;
  ws: string | null;
  ms: string | null;
};

const ts = (s: string | null) => (s === null ? null : Date.parse(s));

/**
 * One page of users with their platform quotas: ONE SQL statement (filters, count, page and each
 * user's quota rows as JSON) and ONE Redis pipeline (HGETALL of every row's key) for the freshest
 * usage — never a request per user. "Over 80 %" filters on the database usage (with the read
 * APIs' lazy-zero rules), which lags Redis only in flusher mode.
 */
export async function listUsersWithQuotas(
  params: UserListParams,
  deps: { pool: Pick<pg.Pool, "query">; redis: Redis | null; clock: QuotaClock; now?: number } = {
    pool: pgPool(),
    redis: redis(),
    clock: appBilling().clock,
  },
): Promise<{ rows: UserListRow[]; total: number; pageSize: number }> {
  const now = deps.now ?? Date.now();
  const like = params.q ? searchPattern(params.q) : null;
  const order = ORDER[params.sort][params.dir];
  const { rows } = await deps.pool.query<{
    id: string;
    email: string;
    username: string | null;
    role: string;
    status: string;
    balance: string;
    signup_source: string;
    created_at: Date;
    total: string;
    quotas: QuotaJson[];
  }>(
    `WITH f AS (
       SELECT u.id, u.email, u.username, u.role, u.status, u.balance, u.signup_source, u.created_at
       FROM users u
       WHERE u.deleted_at IS NULL
         AND ($1::text IS NULL OR u.email ILIKE $1 OR u.username ILIKE $1)
         AND ($2::text = '' OR u.role = $2)
         AND ($3::text = '' OR u.status = $3)
         AND ($4::text = '' OR u.signup_source = $4)
         AND (NOT $5::bool OR EXISTS (SELECT 1 FROM user_platform_quotas q WHERE q.user_id = u.id AND q.deleted_at IS NULL
               AND (q.daily_limit_usd IS NOT NULL OR q.weekly_limit_usd IS NOT NULL OR q.monthly_limit_usd IS NOT NULL)))
         AND (NOT $6::bool OR EXISTS (SELECT 1 FROM user_platform_quotas q WHERE q.user_id = u.id AND q.deleted_at IS NULL AND (
               (q.daily_limit_usd > 0 AND (CASE WHEN q.daily_window_start < $7 THEN 0 ELSE q.daily_usage_usd END) >= 0.8 * q.daily_limit_usd)
            OR (q.weekly_limit_usd > 0 AND (CASE WHEN q.weekly_window_start < $8 THEN 0 ELSE q.weekly_usage_usd END) >= 0.8 * q.weekly_limit_usd)
            OR (q.monthly_limit_usd > 0 AND (CASE WHEN $9 - q.monthly_window_start >= interval '720 hours' THEN 0 ELSE q.monthly_usage_usd END)
                  >= 0.8 * q.monthly_limit_usd))))
     ), p AS (
       SELECT f.*, count(*) OVER () AS total FROM f ORDER BY ${order} LIMIT $10 OFFSET $11
     )
     SELECT p.id, p.email, p.username, p.role, p.status, p.balance::text AS balance, p.signup_source, p.created_at, p.total,
       COALESCE((SELECT json_agg(json_build_object(
           'id', q.id, 'platform', q.platform,
           'dl', q.daily_limit_usd::float8, 'wl', q.weekly_limit_usd::float8, 'ml', q.monthly_limit_usd::float8,
           'du', q.daily_usage_usd::float8, 'wu', q.weekly_usage_usd::float8, 'mu', q.monthly_usage_usd::float8,
           'ds', q.daily_window_start, 'ws', q.weekly_window_start, 'ms', q.monthly_window_start)
         ORDER BY array_position($12::text[], q.platform::text) NULLS LAST, q.platform)
         FROM user_platform_quotas q WHERE q.user_id = p.id AND q.deleted_at IS NULL), '[]'::json) AS quotas
     FROM p ORDER BY ${order}`,
    [
      like,
      params.role,
      params.status,
      params.source,
      params.limit === "1",
      params.over80 === "1",
      new Date(deps.clock.startOfDay(now)),
      new Date(deps.clock.startOfWeek(now)),
      new Date(now),
      USER_PAGE_SIZE,
      (params.page - 1) * USER_PAGE_SIZE,
      PLATFORMS,
    ],
  );

  const pairs = rows.flatMap((u) => u.quotas.map((q) => billingKeys.userPlatformQuota(Number(u.id), q.platform)));
  const entries = await pipelineEntries(deps.redis, pairs);
  let k = 0;
  const out: UserListRow[] = rows.map((u) => ({
    id: Number(u.id),
    email: u.email,
    username: u.username,
    role: u.role === "admin" ? "admin" : "user",
    status: u.status === "disabled" ? "disabled" : "active",
    balance: Number(u.balance).toFixed(2),
    signupSource: u.signup_source,
    createdAt: u.created_at.toISOString(),
    quotas: u.quotas.map((q) => {
      const row: QuotaRow = {
        id: q.id,
        userId: Number(u.id),
        platform: q.platform,
        dailyLimit: q.dl,
        weeklyLimit: q.wl,
        monthlyLimit: q.ml,
        dailyUsage: q.du,
        weeklyUsage: q.wu,
        monthlyUsage: q.mu,
        dailyWindowStart: ts(q.ds),
        weeklyWindowStart: ts(q.ws),
        monthlyWindowStart: ts(q.ms),
        createdAt: 0,
        updatedAt: 0,
      };
      return adminQuotaItem(row, now, deps.clock, entries[k++]);
    }),
  }));
  return { rows: out, total: rows.length ? Number(rows[0].total) : 0, pageSize: USER_PAGE_SIZE };
}

/**
 * `q` as an ILIKE "contains" pattern with `%`, `_` and `\` taken literally (backslash is
 * PostgreSQL's default LIKE escape): searching `a_b` must not match `axb`.
 */
export function searchPattern(q: string): string {
  return `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** HGETALL of many keys in one pipeline; undefined entries when Redis is absent or failing. */
export async function pipelineEntries(
  r: Redis | null,
  keys: string[],
): Promise<Array<QuotaCacheEntry | null | undefined>> {
  if (!r || keys.length === 0) return keys.map(() => undefined);
  return new QuotaCache(r).readMany(keys).catch(() => keys.map(() => undefined));
}
