// The users page's statement shapes for bench/users-page.ts's EXPLAIN: the statements themselves
// come from the modules the page runs (lib/users/list-sql.ts, lib/users/sparkline.ts).
import { historyRetentionFromEnv } from "@/lib/billing/history";
import { DEFAULT_PLATFORMS } from "@/lib/billing/platforms";
import type { QuotaClock } from "@/lib/billing/windows";
import { countedUsersQuery, LIST_SCALE_QUERY, type ListScale } from "@/lib/users/list-counts";
import {
  quotaCellsQuery,
  USER_STATS_SQL,
  userCountBound,
  userCountQuery,
  userPageQuery,
  userPageQueryAtScale,
  type UserPageFilter,
} from "@/lib/users/list-sql";
import { sparklineQuery } from "@/lib/users/sparkline";

/**
 * Every statement shape the page can issue at this scale (its filters, sorts, search, deep pages,
 * the side statements): at scale (more than LIVE_LIST_MAX_USERS users) each page statement with its
 * bounded count, and the recorded counts instead of the live counters.
 */
export function shapes(
  filter: (o: Partial<UserPageFilter>) => UserPageFilter,
  o: { deepPage: number; search: string },
  clock: QuotaClock,
  now: number,
  pageIds: number[],
  scale: ListScale = "live",
): Array<[string, { text: string; values: unknown[] }]> {
  const PAGES = o.deepPage;
  const SEARCH = o.search;
  const page = (f: Partial<UserPageFilter>) =>
    scale === "live" ? userPageQuery(filter(f), clock, now) : userPageQueryAtScale(filter(f), clock, now);
  const shapes = pageShapes(page, PAGES, SEARCH);
  const counts: Array<[string, { text: string; values: unknown[] }]> =
    scale === "live"
      ? [["counters (getUserStats)", { text: USER_STATS_SQL, values: [] }]]
      : [
          ...pageShapes((f) => userCountQuery(filter(f), clock, now, userCountBound(filter(f))), PAGES, SEARCH)
            .filter(([name]) => !name.startsWith("sort ") || name.startsWith("sort created desc, page 1"))
            .map(([name, q]): [string, typeof q] => [`bounded count: ${name.replace(/^sort .*/, "no filter")}`, q]),
          [
            "recorded counts (countedUsers, source=github)",
            countedUsersQuery({ role: "", status: "", source: "github" }),
          ],
          ["scale (measureListScale)", LIST_SCALE_QUERY],
        ];
  return [
    ...shapes,
    ...counts,
    ["sparkline (50 users)", sparklineQuery(clock, historyRetentionFromEnv(), pageIds, now)],
    ["quota-cells poll (50 users)", quotaCellsQuery(pageIds, DEFAULT_PLATFORMS)],
  ];
}

function pageShapes(
  page: (f: Partial<UserPageFilter>) => { text: string; values: unknown[] },
  PAGES: number,
  SEARCH: string,
): Array<[string, { text: string; values: unknown[] }]> {
  return [
    ["sort created desc, page 1 (default)", page({})],
    [`sort created desc, page ${PAGES}`, page({ page: PAGES })],
    ["sort created asc", page({ dir: "asc" })],
    ["sort email asc", page({ sort: "email", dir: "asc" })],
    ["sort balance desc", page({ sort: "balance" })],
    ["sort spend_day desc", page({ sort: "spend_day" })],
    ["sort spend_week desc", page({ sort: "spend_week" })],
    ["sort spend_month desc", page({ sort: "spend_month" })],
    ["sort cap desc", page({ sort: "cap" })],
    ["sort cap asc", page({ sort: "cap", dir: "asc" })],
    [`search q=${SEARCH}`, page({ q: SEARCH })],
    ["filter role=admin", page({ role: "admin" })],
    ["filter status=disabled", page({ status: "disabled" })],
    ["filter source=github", page({ source: "github" })],
    ["filter limit=1", page({ limit: "1" })],
    ["filter over80=1", page({ over80: "1" })],
    ["filter over80=1, sort cap desc (overview's near-cap)", page({ over80: "1", sort: "cap" })],
  ];
}
