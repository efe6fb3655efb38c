import "server-only";

import type pg from "pg";
import { z } from "zod";

import { AUTH_SOURCES } from "@/lib/auth-sources";
import { billingKeys } from "@/lib/billing/keys";
import type { QuotaCache } from "@/lib/billing/quota-cache";
import { toRow, type QuotaRow, type RawRow } from "@/lib/billing/quota-repo";
import { adminQuotaItem, type AdminQuotaItem } from "@/lib/billing/quota-view";
import type { QuotaClock } from "@/lib/billing/windows";
import { pgPool } from "@/lib/db/client";
import { appPlatforms } from "@/lib/db/platforms";
import { groupsAvailable, type UserGroup } from "@/lib/gateway/context";
import { appBilling } from "@/lib/quota/runtime";

import { countable, countedUsers, listScale, UserListCounter, type ListScale } from "./list-counts";
import {
  QUOTA_SORTS,
  quotaCellsQuery,
  USER_PAGE_SIZE,
  userCountBound,
  userCountQuery,
  userPageQuery,
  userPageQueryAtScale,
  type UserPageRow,
} from "./list-sql";
import { toQuotaCells, type QuotaCellsSnapshot } from "./quota-cells";
import type { UserDto } from "./users";

export { searchPattern, USER_PAGE_SIZE } from "./list-sql";

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
  sort: z.enum(["created", "email", "balance", ...QUOTA_SORTS]).catch("created"),
  dir: z.enum(["asc", "desc"]).catch("desc"),
  page: z.coerce.number().int().min(1).max(100_000).catch(1),
});
export type UserListParams = z.infer<typeof UserListParamsSchema>;

const state = globalThis as unknown as { qcGroupsAvailable?: Promise<boolean> };

/** groupsAvailable on the app's pool, asked once per process (a table created later shows after a restart). */
function appGroupsAvailable(): Promise<boolean> {
  if (!state.qcGroupsAvailable) {
    state.qcGroupsAvailable = groupsAvailable(pgPool());
    state.qcGroupsAvailable.catch(() => (state.qcGroupsAvailable = undefined)); // retried after a failure
  }
  return state.qcGroupsAvailable;
}

/** `groups`: the gateway's groups of the user (lib/gateway/context.ts); null where the list has none. */
export type UserListRow = UserDto & { quotas: AdminQuotaItem[]; groups: UserGroup[] | null };

const ts = (s: string | null) => (s === null ? null : Date.parse(s));

/**
 * One page of users with their platform quotas: ONE SQL statement (filters, count, page and each
 * user's quota rows as JSON) and ONE Redis pipeline (HGETALL of every row's key) for the freshest
 * usage — never a request per user. Above LIVE_LIST_MAX_USERS users, the statement at scale and a
 * bounded count (two statements side by side; docs/users-list-scale.md §3). "Over 80 %" filters on the database usage (with the read
 * APIs' lazy-zero rules), which lags Redis only in flusher mode.
 */
export async function listUsersWithQuotas(
  params: UserListParams,
  deps: {
    pool: Pick<pg.Pool, "query">;
    cache: QuotaCache | null;
    clock: QuotaClock;
    now?: number;
    /** the platform registry (the app's by default) */
    platforms?: readonly string[];
    /** include each user's gateway groups (default: where the gateway's tables exist, checked once) */
    groups?: boolean;
    /** which statements (default: measured, lib/users/list-counts.ts listScale) */
    scale?: ListScale;
  } = {
    pool: pgPool(),
    cache: appBilling().cache,
    clock: appBilling().clock,
  },
): Promise<{
  rows: UserListRow[];
  /** the users the filter selects; with totalAtLeast, "more than this many" */
  total: number;
  totalAtLeast: boolean;
  pageSize: number;
  groups: boolean;
  at: string;
}> {
  const now = deps.now ?? Date.now();
  const platforms = deps.platforms ?? (await appPlatforms());
  const groups = deps.groups ?? (await appGroupsAvailable());
  const scale = deps.scale ?? (await listScale(deps.pool, now));
  let rows: UserPageRow[];
  let total: number;
  let totalAtLeast = false;
  if (scale === "live") {
    ({ rows } = await deps.pool.query<UserPageRow>(userPageQuery(params, deps.clock, now, platforms, groups)));
    total = rows.length ? Number(rows[0].total) : 0;
  } else {
    // at scale (docs/users-list-scale.md §3): the page and a bounded count side by side
    const bound = userCountBound(params);
    const [page, count] = await Promise.all([
      deps.pool.query<UserPageRow>(userPageQueryAtScale(params, deps.clock, now, platforms, groups)),
      deps.pool.query<{ n: number }>(userCountQuery(params, deps.clock, now, bound)),
    ]);
    rows = page.rows;
    total = count.rows[0].n;
    if (total > bound) {
      const counted = countable(params) ? await countedUsers(deps.pool, params) : null;
      if (counted !== null && counted > bound) total = counted;
      else [total, totalAtLeast] = [bound, true];
    }
  }

  const pairs = rows.flatMap((u) => u.quotas.map((q) => billingKeys.userPlatformQuota(Number(u.id), q.platform)));
  const entries = pairs.length ? await deps.cache?.readManyLenient(pairs) : undefined;
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
    groups: groups ? (u.groups ?? []).map((g) => ({ id: Number(g.id), name: g.name, exclusive: g.exclusive })) : null,
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
      return adminQuotaItem(row, now, deps.clock, entries?.[k++]);
    }),
  }));
  return {
    rows: out,
    total,
    totalAtLeast,
    pageSize: USER_PAGE_SIZE,
    groups,
    at: new Date(now).toISOString(),
  };
}

/** At most this many users per poll (a page is 50). */
export const QUOTA_CELLS_MAX_USERS = 100;

/**
 * The users list's live quota column (polled every 10 s by the page): the cells of these users from
 * ONE SQL statement (their active rows, through the user_id index) and ONE Redis pipeline for the
 * freshest usage, the same rules as the page's own read. Unknown or deleted users are left out.
 */
export async function readQuotaCells(
  userIds: readonly number[],
  deps: {
    pool: Pick<pg.Pool, "query">;
    cache: QuotaCache | null;
    clock: QuotaClock;
    now?: number;
    /** the platform registry (the app's by default): the cell's platform order */
    platforms?: readonly string[];
  } = {
    pool: pgPool(),
    cache: appBilling().cache,
    clock: appBilling().clock,
  },
): Promise<QuotaCellsSnapshot> {
  const now = deps.now ?? Date.now();
  const platforms = deps.platforms ?? (await appPlatforms());
  const { rows } = await deps.pool.query<RawRow>(quotaCellsQuery(userIds, platforms));
  const quotaRows = rows.map(toRow);
  const entries = quotaRows.length
    ? await deps.cache?.readManyLenient(quotaRows.map((r) => billingKeys.userPlatformQuota(r.userId, r.platform)))
    : undefined;
  const byUser = new Map<number, AdminQuotaItem[]>(userIds.map((id) => [id, []]));
  quotaRows.forEach((r, i) => byUser.get(r.userId)?.push(adminQuotaItem(r, now, deps.clock, entries?.[i])));
  return {
    at: new Date(now).toISOString(),
    cells: Object.fromEntries([...byUser].map(([id, items]) => [String(id), toQuotaCells(items)])),
  };
}

const counter = globalThis as unknown as { qcUserListCounter?: UserListCounter };

/** This instance's recounter of the list's totals at scale (instrumentation.ts; QC_USER_LIST_COUNTS=off: none). */
export function startUserListCounter(): void {
  if (process.env.QC_USER_LIST_COUNTS === "off") return;
  counter.qcUserListCounter ??= new UserListCounter(pgPool());
  counter.qcUserListCounter.start();
}
