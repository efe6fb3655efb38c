import "server-only";

import { collectDefaultMetrics, Counter, Registry } from "prom-client";

import { signInThrottleCounts, type ThrottleScope } from "@/lib/auth/sign-in-throttle";
import { registerBillingMetrics } from "@/lib/billing/prometheus";
import { appBilling } from "@/lib/quota/runtime";
import { signupDefaultsFallbacks } from "@/lib/settings/signup-plan";

/**
 * The console's Prometheus registry (served by /api/metrics): the billing chain of this process
 * (`qc_billing_*`, lib/billing/prometheus.ts), sign-ups that fell back from unusable quota
 * defaults, sign-in throttling (`qc_signin_*`, lib/auth/sign-in-throttle.ts), and prom-client's
 * process metrics (`qc_process_*`, `qc_nodejs_*`). One registry per process, kept on globalThis so
 * a dev reload does not register every metric twice.
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
  const scopes: ThrottleScope[] = ["pair", "client", "account"];
  new Counter({
    name: "qc_signin_throttled_total",
    help: "Sign-in attempts refused without being evaluated, by the limit that refused them: pair = one account from one client (or known device) backing off, client = one client's failures over all accounts, account = the per-account ceiling for unrecognised devices.",
    labelNames: ["scope"],
    registers: [registry],
    collect() {
      this.reset();
      for (const scope of scopes) this.inc({ scope }, signInThrottleCounts.refused[scope]);
    },
  });
  new Counter({
    name: "qc_signin_lockouts_total",
    help: "Sign-in limits reached (each logged once with the account id or client, never the address): pair = an account and client entered back-off, client = a client reached its failure limit, account = an account reached its ceiling.",
    labelNames: ["scope"],
    registers: [registry],
    collect() {
      this.reset();
      for (const scope of scopes) this.inc({ scope }, signInThrottleCounts.lockouts[scope]);
    },
  });
  collectDefaultMetrics({ register: registry, prefix: "qc_" });
  return registry;
}
