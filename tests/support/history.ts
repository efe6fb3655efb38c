import type { Locator, Page } from "playwright-core";

import { downsampleHistory, historyRetentionFromEnv } from "@/lib/billing/history";

import { makeBilling } from "./billing-runtime";

/**
 * Usage history for e2e tests (issue 15): costs recorded at past instants through the billing
 * library's real write path (QuotaRepository.incrementUsageWithReset: the usage UPDATE and its
 * hourly rollup bucket in one statement), and the charts' data tables read back as text.
 */
export const DAY_MS = 86_400_000;

/** A cost `daysAgo` quota days before today (at 12:00 of that day; 0 = now), oldest first. */
export type SeedCost = { platform: string; daysAgo: number; cost: number };

/**
 * Records the costs for `userId` in chronological order (so the quota row's windows end as the
 * gateway's would after that traffic) and returns the quota zone's today as YYYY-MM-DD.
 */
export async function recordHistory(userId: number, costs: readonly SeedCost[], timeZone = "Asia/Shanghai") {
  const b = makeBilling({ timeZone, redisUrl: null });
  try {
    const now = Date.now();
    const today = b.clock.startOfDay(now);
    const at = (k: number) => (k === 0 ? now : today - k * DAY_MS + 12 * 3_600_000);
    for (const c of [...costs].sort((x, y) => y.daysAgo - x.daysAgo))
      await b.repo.incrementUsageWithReset(userId, c.platform, c.cost, at(c.daysAgo));
    return quotaDay(now, timeZone);
  } finally {
    await b.close();
  }
}

/**
 * Runs the downsampler once (as the server's history worker does): the admin overview reads
 * finished days from its per-day totals, which a cost recorded into a past day after the worker's
 * last run reaches only then (it recomputes the last days it summed, lib/billing/history.ts).
 */
export async function downsample(timeZone = "Asia/Shanghai") {
  const b = makeBilling({ timeZone, redisUrl: null });
  try {
    return await downsampleHistory(b.pool, b.clock, historyRetentionFromEnv());
  } finally {
    await b.close();
  }
}

/** The calendar day (YYYY-MM-DD) of an instant in a zone. */
export const quotaDay = (at: number, timeZone: string) =>
  new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" }).format(at);

/** A table's header row and body rows as trimmed cell texts (th and td alike). */
export async function readTable(table: Locator): Promise<{ head: string[]; rows: string[][] }> {
  return table.evaluate((t: HTMLTableElement) => ({
    head: [...t.tHead!.rows[0].cells].map((c) => c.textContent!.trim()),
    rows: [...t.tBodies[0].rows].map((r) => [...r.cells].map((c) => c.textContent!.trim())),
  }));
}

/** The page is no wider than its viewport (nothing scrolls sideways on a phone). */
export const pageWidth = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth);
