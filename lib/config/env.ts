import "server-only";

import { randomBytes } from "node:crypto";
import { z } from "zod";

import { parseTrustedProxies, type TrustedProxies } from "@/lib/auth/client-ip";

/**
 * Every environment variable the console reads, parsed once. README "Configuration" lists the
 * same names and defaults; keep them in step.
 */
const EnvSchema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  DATABASE_URL: z.string().min(1, "DATABASE_URL is required (npm run demo sets it for you)"),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(100).default(10),
  /**
   * Whose database DATABASE_URL is (README "Attach to your sub2api"). `standalone`: the console's
   * own; its migrations create a faithful subset of the gateway's users/settings/user_platform_quotas
   * in `public`. `attached`: the gateway's own; migrations touch only the console schema
   * quota_console, and the server checks the gateway's tables at start-up (lib/db/compat.ts) and
   * refuses to start on a mismatch. The console's queries are the same in both.
   */
  GATEWAY_DATABASE: z.enum(["standalone", "attached"]).default("standalone"),
  /** Unset: the console runs without the shared Redis cache (rate limits fall back to memory). */
  REDIS_URL: z.string().optional(),
  /** ≥ 32 characters; signs session cookies. Required in production. */
  SESSION_SECRET: z.string().optional(),
  SESSION_TTL_HOURS: z.coerce
    .number()
    .int()
    .min(1)
    .max(24 * 90)
    .default(168),
  /** Secure cookie flag; defaults to true in production. The demo sets false (plain http). */
  COOKIE_SECURE: z.enum(["true", "false"]).optional(),
  /** Replaced by TRUSTED_PROXIES; refused so that an old deployment does not silently change meaning. */
  TRUST_PROXY: z
    .undefined({
      error:
        "TRUST_PROXY was replaced by TRUSTED_PROXIES (a hop count or a comma list of proxy CIDRs; unset = X-Forwarded-For is ignored)",
    })
    .optional(),
  /** Unset: X-Forwarded-For is ignored. A hop count, or a comma list of proxy addresses/CIDRs (lib/auth/client-ip.ts). */
  TRUSTED_PROXIES: z
    .string()
    .optional()
    .superRefine((v, ctx) => {
      try {
        parseTrustedProxies(v);
      } catch (e) {
        ctx.addIssue({ code: "custom", message: (e as Error).message });
      }
    }),
  /** Free sign-in failures per account and client before exponential back-off starts. */
  LOGIN_MAX_FAILURES: z.coerce.number().int().min(1).max(1000).default(5),
  /** Failures per client (all accounts) per LOGIN_WINDOW_SECONDS. */
  LOGIN_IP_MAX_FAILURES: z.coerce.number().int().min(1).max(100000).default(30),
  /** The per-client window, and the longest back-off delay of one account and client. */
  LOGIN_WINDOW_SECONDS: z.coerce.number().int().min(10).max(86400).default(900),
  /** The per-account ceiling: failures from unrecognised devices per LOGIN_ACCOUNT_WINDOW_SECONDS. */
  LOGIN_ACCOUNT_MAX_FAILURES: z.coerce.number().int().min(1).max(1000000).default(100),
  LOGIN_ACCOUNT_WINDOW_SECONDS: z.coerce.number().int().min(60).max(86400).default(3600),
  /** Must equal the gateway's time zone: daily/weekly windows are calendar windows there. */
  QUOTA_TIMEZONE: z.string().default("Asia/Shanghai"),
  /** Must equal the gateway's database.user_platform_quota_flusher_enabled: admin changes are then applied in place. */
  QUOTA_FLUSHER_ENABLED: z.enum(["true", "false"]).default("false"),
  /** Bearer token for /api/metrics (Prometheus); unset = the endpoint answers 404. */
  METRICS_TOKEN: z.string().min(16, "METRICS_TOKEN must be at least 16 characters").optional(),
  /** The operator's hard switch for the public register page; the admin's setting must be on too (lib/settings/registration.ts). */
  REGISTRATION_ENABLED: z.enum(["true", "false"]).default("false"),
  /** Attached mode: the gateway's public web address; the register page links to its sign-up page. */
  GATEWAY_URL: z.url({ protocol: /^https?$/, error: "GATEWAY_URL must be an http(s) URL" }).optional(),
  ADMIN_EMAIL: z.string().optional(),
  ADMIN_PASSWORD: z.string().optional(),
});

export type Env = z.infer<typeof EnvSchema> & {
  sessionSecret: string;
  cookieSecure: boolean;
  trustedProxies: TrustedProxies;
};

let cached: Env | undefined;

/** The parsed environment; throws with a readable message on a bad value. */
export function env(): Env {
  if (cached) return cached;
  const parsed = EnvSchema.safeParse(process.env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`).join("\n");
    throw new Error(`Invalid environment:\n${lines}`);
  }
  const e = parsed.data;
  let sessionSecret = e.SESSION_SECRET ?? "";
  if (sessionSecret.length < 32) {
    if (e.NODE_ENV === "production" && process.env.NEXT_PHASE !== "phase-production-build") {
      throw new Error("SESSION_SECRET must be set to at least 32 characters in production");
    }
    // Development only: sessions last as long as this process.
    sessionSecret = randomBytes(32).toString("hex");
  }
  cached = {
    ...e,
    sessionSecret,
    cookieSecure: e.COOKIE_SECURE ? e.COOKIE_SECURE === "true" : e.NODE_ENV === "production",
    trustedProxies: parseTrustedProxies(e.TRUSTED_PROXIES),
  };
  return cached;
}
