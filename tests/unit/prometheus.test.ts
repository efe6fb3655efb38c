import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";

import type { LedgerStatus } from "@/lib/billing/ledger-status";
import { newBillingMetrics, type BillingMetrics } from "@/lib/billing/metrics";
import { registerBillingMetrics } from "@/lib/billing/prometheus";

/**
 * What an operator's Prometheus sees from lib/billing: names, types, labels and values read at
 * scrape time. Guards against a counter added to BillingMetrics that never reaches /metrics, a
 * stale backlog value shown while its store is down, and a scrape that hangs on a hung store.
 */
const ledger = (over: Partial<LedgerStatus> = {}): LedgerStatus => ({
  dirty: 7,
  flushing: 2,
  journal: 3,
  outbox: { rows: 4, overdue: 1, oldestSeconds: 90 },
  lastFlushAgeSeconds: 12,
  lastDrift: { at: "2026-11-25T10:00:00.000Z", checked: 50, drifted: 2, repaired: 2 },
  ...over,
});

function setup(read?: () => Promise<LedgerStatus>, opts?: { ledgerTimeoutMs?: number }) {
  const registry = new Registry();
  const metrics = newBillingMetrics();
  let calls = 0;
  registerBillingMetrics(
    registry,
    () => ({
      metrics,
      ledger: read
        ? () => {
            calls++;
            return read();
          }
        : undefined,
    }),
    opts,
  );
  return { registry, metrics, calls: () => calls };
}

/** name{labels} → value of every sample in a scrape. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const i = line.lastIndexOf(" ");
    out.set(line.slice(0, i), Number(line.slice(i + 1)));
  }
  return out;
}

describe("registerBillingMetrics", () => {
  it("exposes every counter as qc_billing_*_total with help text, values read at scrape time", async () => {
    const { registry, metrics } = setup(async () => ledger());
    metrics.checks.cache = 5;
    metrics.checks["fail-open"] = 1;
    metrics.blocked = 2;
    metrics.cacheIncrementErrors = 3;
    metrics.dbLoadErrors = 4;
    metrics.usageOpsParked = 6;
    metrics.flushLagMsMax = 1500;
    const text = await registry.metrics();
    const s = samples(text);
    expect(s.get('qc_billing_checks_total{source="cache"}')).toBe(5);
    expect(s.get('qc_billing_checks_total{source="fail-open"}')).toBe(1);
    expect(s.get('qc_billing_checks_total{source="database-no-cache"}')).toBe(0);
    expect(s.get("qc_billing_blocked_total")).toBe(2);
    expect(s.get('qc_billing_redis_errors_total{op="increment"}')).toBe(3);
    expect(s.get('qc_billing_db_errors_total{op="load"}')).toBe(4);
    expect(s.get('qc_billing_usage_ops_total{stage="parked"}')).toBe(6);
    expect(s.get("qc_billing_flush_latency_max_seconds")).toBe(1.5);

    metrics.blocked = 9; // read again on the next scrape, no timer in between
    expect(samples(await registry.metrics()).get("qc_billing_blocked_total")).toBe(9);

    const json = await registry.getMetricsAsJSON();
    for (const m of json) {
      expect(m.name).toMatch(/^qc_billing_[a-z_]+$/);
      expect(m.help.length).toBeGreaterThan(10);
      if (String(m.type) === "counter") expect(m.name).toMatch(/_total$/);
      else expect(m.name).not.toMatch(/_total$/);
    }
  });

  it("every field of BillingMetrics reaches the scrape", async () => {
    const { registry, metrics } = setup();
    const fields = Object.keys(newBillingMetrics()) as (keyof BillingMetrics)[];
    for (const f of fields) {
      const snapshot = await registry.metrics();
      if (f === "checks")
        for (const k of Object.keys(metrics.checks) as (keyof BillingMetrics["checks"])[]) metrics.checks[k] += 1;
      else (metrics[f] as number) += 1000;
      expect(await registry.metrics(), `${f} is not exposed`).not.toBe(snapshot);
    }
  });

  it("ledger gauges: one ledger read per scrape, values as read", async () => {
    const { registry, calls } = setup(async () => ledger());
    const s = samples(await registry.metrics());
    expect(calls()).toBe(1);
    expect(
      Object.fromEntries(
        [...s].filter(([k]) => !k.includes("_total") && !k.includes("flush_latency") && !k.includes("in_memory")),
      ),
    ).toEqual({
      qc_billing_dirty_keys: 7,
      qc_billing_flushing_keys: 2,
      qc_billing_journal_ops: 3,
      qc_billing_outbox_rows: 4,
      qc_billing_outbox_overdue_rows: 1,
      qc_billing_outbox_oldest_age_seconds: 90,
      qc_billing_last_flush_age_seconds: 12,
      qc_billing_drift_last_checked_keys: 50,
      qc_billing_drift_last_drifted_keys: 2,
      qc_billing_drift_last_repaired_keys: 2,
      qc_billing_drift_last_check_timestamp_seconds: Date.parse("2026-11-25T10:00:00Z") / 1000,
      'qc_billing_ledger_readable{store="redis"}': 1,
      'qc_billing_ledger_readable{store="postgres"}': 1,
    });
    await registry.metrics();
    expect(calls()).toBe(2);
  });

  it("a part whose store is unreachable is left out (no stale value), and says so", async () => {
    let status = ledger();
    const { registry } = setup(async () => status);
    expect(samples(await registry.metrics()).get("qc_billing_dirty_keys")).toBe(7);
    status = ledger({ dirty: null, flushing: null, journal: null, lastFlushAgeSeconds: null, lastDrift: null });
    const s = samples(await registry.metrics());
    for (const name of [
      "dirty_keys",
      "flushing_keys",
      "journal_ops",
      "last_flush_age_seconds",
      "drift_last_checked_keys",
    ]) {
      expect(s.has(`qc_billing_${name}`), name).toBe(false);
    }
    expect(s.get("qc_billing_outbox_rows")).toBe(4);
    expect(s.get('qc_billing_ledger_readable{store="redis"}')).toBe(0);
    expect(s.get('qc_billing_ledger_readable{store="postgres"}')).toBe(1);
    status = ledger({ outbox: { rows: 0, overdue: 0, oldestSeconds: null } });
    expect(samples(await registry.metrics()).get("qc_billing_outbox_oldest_age_seconds")).toBe(0);
  });

  it("a hung or failing ledger read costs at most ledgerTimeoutMs and drops only the ledger gauges", async () => {
    const hung = setup(() => new Promise<LedgerStatus>(() => {}), { ledgerTimeoutMs: 100 });
    const t0 = performance.now();
    const s = samples(await hung.registry.metrics());
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(s.has("qc_billing_dirty_keys")).toBe(false);
    expect(s.get('qc_billing_ledger_readable{store="redis"}')).toBe(0);
    expect(s.get('qc_billing_checks_total{source="cache"}')).toBe(0);

    const failing = setup(() => Promise.reject(new Error("ECONNREFUSED")));
    expect(samples(await failing.registry.metrics()).get('qc_billing_ledger_readable{store="postgres"}')).toBe(0);
  });

  it("the source is only called at scrape time", async () => {
    const registry = new Registry();
    let built = 0;
    registerBillingMetrics(registry, () => {
      built++;
      return { metrics: newBillingMetrics() };
    });
    expect(built).toBe(0);
    await registry.metrics();
    expect(built).toBeGreaterThan(0);
  });
});
