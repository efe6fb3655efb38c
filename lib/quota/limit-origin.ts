import type { AuditChange } from "@/lib/audit/audit";
import { AUTH_SOURCES, isAuthSource, type AuthSource } from "@/lib/auth-sources";
import { QUOTA_WINDOWS, type Limits, type QuotaWindow } from "@/lib/billing/vocabulary";
import { sourceGrantKey, sourceQuotasKey, SYSTEM_QUOTAS_KEY } from "@/lib/settings/keys";
import { planSignupDefaults, type SignupDefaultsInput } from "@/lib/settings/signup-plan";

/**
 * "Why does this user have this limit?" — for each cell of a user's quota rows, where its value
 * came from, derived from the audit trail (no extra bookkeeping):
 * - `edit`: the newest console edit of that cell set exactly this value (who, when, which entry);
 * - `signup`: no console edit, and the value is what the sign-up snapshot gave — the defaults as
 *   they stood when the row was created (today's defaults with every later settings change rolled
 *   back), merged for the user's source (the system default, or the source's override);
 * - `outside`: neither — it was changed outside the console (the gateway's own admin, SQL), or
 *   before the console kept its trail. `since` is the console edit it no longer matches, if any.
 * Pure: the loader (lib/quota/admin.ts) reads the rows, the entries and today's defaults.
 */
export type LimitOrigin =
  | { kind: "edit"; auditId: number; actorEmail: string; at: string }
  | { kind: "signup"; from: "system" | "source"; source: AuthSource | null; asOf: string }
  | { kind: "outside"; since: { auditId: number; at: string } | null };

/** The audit entries this needs, newest first. */
export type OriginAuditEntry = { id: number; actorEmail: string; at: string; changes: AuditChange[] };

export type OriginInput = {
  rows: ReadonlyArray<{ platform: string; limits: Limits; createdAt: number }>;
  signupSource: string;
  /** this user's `user.platform_quotas.update` entries, newest first */
  userEdits: readonly OriginAuditEntry[];
  /** `settings.quota_defaults.update` entries, newest first (at least those after the oldest row) */
  settingsChanges: readonly OriginAuditEntry[];
  /** the defaults as stored now */
  defaults: SignupDefaultsInput;
};

type Defaults = SignupDefaultsInput;

function clone(d: Defaults): Defaults {
  return structuredClone(d);
}

const asLimit = (v: unknown): number | null => (typeof v === "number" ? v : null);

/** The defaults as they stood at `t`: today's, with every settings change made after `t` undone. */
export function defaultsAt(today: Defaults, changesNewestFirst: readonly OriginAuditEntry[], t: number): Defaults {
  const d = clone(today);
  for (const e of changesNewestFirst) {
    if (Date.parse(e.at) <= t) break;
    for (const c of e.changes) {
      const w = c.window as QuotaWindow | undefined;
      if (c.key === SYSTEM_QUOTAS_KEY && c.platform && w && d.system[c.platform as keyof Defaults["system"]])
        d.system[c.platform as keyof Defaults["system"]][w] = asLimit(c.before);
      for (const s of AUTH_SOURCES) {
        if (
          c.key === sourceQuotasKey(s) &&
          c.platform &&
          w &&
          d.sources[s].overrides[c.platform as keyof Defaults["system"]]
        )
          d.sources[s].overrides[c.platform as keyof Defaults["system"]][w] = asLimit(c.before);
        if (c.key === sourceGrantKey(s)) d.sources[s].grantOnSignup = c.before === true;
      }
    }
  }
  return d;
}

/** The newest edit of (platform, window): a cell change, or a row removal/creation for the platform. */
function latestEdit(edits: readonly OriginAuditEntry[], platform: string, window: QuotaWindow) {
  for (const e of edits) {
    const c = e.changes.find(
      (x) => x.key === "platform_quota" && x.platform === platform && (x.window === window || x.window === undefined),
    );
    if (c) return { entry: e, after: c.window === undefined ? undefined : c.after };
  }
  return null;
}

export function limitOrigins(input: OriginInput): Record<string, Record<QuotaWindow, LimitOrigin>> {
  const out: Record<string, Record<QuotaWindow, LimitOrigin>> = {};
  const source = isAuthSource(input.signupSource) ? input.signupSource : null;
  const plans = new Map<number, ReturnType<typeof planSignupDefaults>>();
  const planAt = (t: number) => {
    let p = plans.get(t);
    if (!p) {
      const d = defaultsAt(input.defaults, input.settingsChanges, t);
      // A source the console does not know (a fork's) gets the system default only.
      p = planSignupDefaults(
        source ? d : { ...d, sources: { ...d.sources, email: { ...d.sources.email, grantOnSignup: false } } },
        source ?? "email",
      );
      plans.set(t, p);
    }
    return p;
  };
  for (const row of input.rows) {
    out[row.platform] = {} as Record<QuotaWindow, LimitOrigin>;
    for (const w of QUOTA_WINDOWS) {
      const value = row.limits[w];
      const edit = latestEdit(input.userEdits, row.platform, w);
      if (edit) {
        out[row.platform][w] =
          edit.after === value
            ? { kind: "edit", auditId: edit.entry.id, actorEmail: edit.entry.actorEmail, at: edit.entry.at }
            : { kind: "outside", since: { auditId: edit.entry.id, at: edit.entry.at } };
        continue;
      }
      const cell = planAt(row.createdAt).cells[row.platform as keyof ReturnType<typeof planSignupDefaults>["cells"]]?.[
        w
      ];
      const planned = cell ? (cell.limit === null ? null : Number(cell.limit)) : undefined;
      out[row.platform][w] =
        cell && planned === value
          ? {
              kind: "signup",
              from: cell.origin,
              source: cell.origin === "source" ? source : null,
              asOf: new Date(row.createdAt).toISOString(),
            }
          : { kind: "outside", since: null };
    }
  }
  return out;
}
