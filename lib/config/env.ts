import "server-only";
import { randomBytes } from "node:crypto";
import { z } from "zod";

/**
 * Every environment variable the console reads, parsed once. README "Configuration" lists the
 * same names and defaults; keep them in step.
 */
const EnvSchema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  DATABASE_URL: z.string().min(1, "DATABASE_URL is required (npm run demo sets it for you)"),
  DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(100).default(10),
  /** Unset: the console runs without the shared Redis cache (rate limits fall back to memory). */
  REDIS_URL: z.string().optional(),
  /** ≥ 32 characters; signs session cookies. Required in production. */
  SESSION_SECRET: z.string().optional(),
  SESSION_TTL_HOURS: z.coerce.number().int().min(1).max(24 * 90).default(168),
  /** Secure cookie flag; defaults to true in production. The demo sets false (plain http). */
  COOKIE_SECURE: z.enum(["true", "false"]).optional(),
  /** Trust the left-most X-Forwarded-For entry (only behind a proxy you control). */
  TRUST_PROXY: z.enum(["true", "false"]).default("false"),
  LOGIN_MAX_FAILURES: z.coerce.number().int().min(1).max(1000).default(5),
  LOGIN_IP_MAX_FAILURES: z.coerce.number().int().min(1).max(100000).default(30),
  LOGIN_WINDOW_SECONDS: z.coerce.number().int().min(10).max(86400).default(900),
  /** Must equal the gateway's time zone: daily/weekly windows are calendar windows there. */
  QUOTA_TIMEZONE: z.string().default("Asia/Shanghai"),
  /** Must equal the gateway's database.user_platform_quota_flusher_enabled: admin changes are then applied in place. */
  QUOTA_FLUSHER_ENABLED: z.enum(["true", "false"]).default("false"),
  /** Bearer token for /api/metrics (Prometheus); unset = the endpoint answers 404. */
  METRICS_TOKEN: z.string().min(16, "METRICS_TOKEN must be at least 16 characters").optional(),
  /** The operator's hard switch for the public register page; the admin's setting must be on too (lib/settings/registration.ts). */
  REGISTRATION_ENABLED: z.enum(["true", "false"]).default("false"),
  ADMIN_EMAIL: z.string().optional(),
  ADMIN_PASSWORD: z.string().optional(),
});

export type Env = z.infer<typeof EnvSchema> & { sessionSecret: string; cookieSecure: boolean };

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
  };
  return cached;
}
