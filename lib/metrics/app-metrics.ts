import "server-only";
import { collectDefaultMetrics, Counter, Registry } from "prom-client";
import { registerBillingMetrics } from "@/lib/billing/prometheus";
import { appBilling } from "@/lib/quota/runtime";
import { signupDefaultsFallbacks } from "@/lib/settings/signup-plan";

/**
 * The console's Prometheus registry (served by /api/metrics): the billing chain of this process
 * (`qc_billing_*`, lib/billing/prometheus.ts), sign-ups that fell back from unusable quota
 * defaults, and prom-client's process metrics (`qc_process_*`, `qc_nodejs_*`). One registry per
 * process, kept on globalThis so a dev reload does not register every metric twice.
 */
const globalForMetrics = globalThis as unknown as { qcMetricsRegistry?: Registry };

export function appMetricsRegistry(): Registry {
  globalForMetrics.qcMetricsRegistry ??= createRegistry();
  return globalForMetrics.qcMetricsRegistry;
}

function createRegistry(): Registry {
  const registry = new Registry(); // scrape order = registration order: billing first
  // appBilling() is built on first scrape (if instrumentation has not built it already).
  registerBillingMetrics(registry, appBilling);
  new Counter({
    name: "qc_signup_defaults_fallbacks_total",
    help: "Sign-ups whose quota snapshot used a fallback: unreadable = a stored default map could not be read (cells set to 0), clamped = a limit did not fit and was clamped.",
    labelNames: ["kind"],
    registers: [registry],
    collect() {
      this.reset();
      this.inc({ kind: "unreadable" }, signupDefaultsFallbacks.unreadable);
      this.inc({ kind: "clamped" }, signupDefaultsFallbacks.clamped);
    },
  });
  collectDefaultMetrics({ register: registry, prefix: "qc_" });
  return registry;
}
