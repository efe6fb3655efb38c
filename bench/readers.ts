/**
 * Micro-benchmark of the quota-hash readers (lib/billing/encoding.ts) and the QuotaClock hot path,
 * run by hand — timings are machine-dependent and never asserted:
 *
 *   npm run bench:readers
 *
 * A canonical hash is what Go's SetUserPlatformQuotaCache and Redis HINCRBYFLOAT leave behind; the
 * non-canonical one forces the full Go grammar (exponents, hex, a '+' sign) on every field.
 */
import { readQuotaInstant, readQuotaInt, readQuotaLimit, readQuotaUsage } from "@/lib/billing/encoding";
import { QuotaClock } from "@/lib/billing/windows";

type Hash = Record<string, string>;

const canonical: Hash = {
  daily_usage: "12.345",
  weekly_usage: "3.00000000000000000017", // HINCRBYFLOAT output: more digits than a double holds
  monthly_usage: "123.4567",
  version: "17",
  schema_version: "1",
  daily_limit: "10",
  weekly_limit: "50.5",
  monthly_limit: "", // nil
  daily_window_start: "1764172800",
  weekly_window_start: "1763913600",
  monthly_window_start: "1762000000",
};

const slow: Hash = {
  daily_usage: "1.2345e1",
  weekly_usage: "0x1.8p1",
  monthly_usage: "1_234.5",
  version: "+17",
  schema_version: "+1",
  daily_limit: "1e1",
  weekly_limit: "0x32p0",
  monthly_limit: "inf",
  daily_window_start: "+1764172800",
  weekly_window_start: "01763913600000000000",
  monthly_window_start: "+1762000000",
};

/** Reads the 11 fields as decodeQuotaEntry does; returns something that depends on every value. */
function readHash(h: Hash): number {
  let acc = 0;
  acc += readQuotaUsage(h.daily_usage).value;
  acc += readQuotaUsage(h.weekly_usage).value;
  acc += readQuotaUsage(h.monthly_usage).value;
  acc += readQuotaInt(h.version).value;
  acc += readQuotaInt(h.schema_version).value;
  acc += readQuotaLimit(h.daily_limit).value ?? 1;
  acc += readQuotaLimit(h.weekly_limit).value ?? 1;
  acc += readQuotaLimit(h.monthly_limit).value ?? 1;
  acc += readQuotaInstant(h.daily_window_start).value ?? 1;
  acc += readQuotaInstant(h.weekly_window_start).value ?? 1;
  acc += readQuotaInstant(h.monthly_window_start).value ?? 1;
  return acc;
}

function bench(name: string, perIteration: number, unit: string, fn: () => number, iterations: number): void {
  let sink = 0;
  for (let i = 0; i < iterations / 10; i++) sink += fn(); // warm up (JIT)
  const best: number[] = [];
  for (let round = 0; round < 5; round++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) sink += fn();
    best.push(Number(process.hrtime.bigint() - t0) / iterations);
  }
  const ns = Math.min(...best);
  console.log(
    `${name.padEnd(44)} ${ns.toFixed(1).padStart(8)} ns/call  ${(ns / perIteration).toFixed(1).padStart(7)} ns/${unit}` +
      (Number.isNaN(sink) ? " (NaN sink)" : ""),
  );
}

bench("canonical hash, 11 fields", 11, "field", () => readHash(canonical), 2_000_000);
bench("non-canonical hash (full Go grammar)", 11, "field", () => readHash(slow), 200_000);

const clock = new QuotaClock("Asia/Shanghai");
const now = Date.UTC(2026, 10, 27, 4, 0, 0);
let tick = 0;
bench(
  "QuotaClock start/next day+week (memo hit)",
  4,
  "call",
  () => {
    const t = now + (tick++ % 1000);
    return clock.startOfDay(t) + clock.startOfWeek(t) + clock.nextDailyReset(t) + clock.nextWeeklyReset(t);
  },
  2_000_000,
);
let day = 0;
bench(
  "QuotaClock new local date (memo miss)",
  1,
  "call",
  () => clock.startOfDay(now + (day++ % 3650) * 86_400_000),
  2_000,
);
