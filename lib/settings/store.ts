import "server-only";

import { createHash } from "node:crypto";
import type pg from "pg";

import { recordAudit, type AuditActor, type AuditChange } from "@/lib/audit/audit";
import { AUTH_SOURCES, type AuthSource } from "@/lib/auth-sources";
import { pgPool } from "@/lib/db/client";
import { appPlatforms } from "@/lib/db/platforms";
import { rollback, withTransaction } from "@/lib/db/transaction";

import { decodeQuotaMap, encodeQuotaMap } from "./codec";
import { QUOTA_DEFAULT_KEYS, sourceGrantKey, sourceQuotasKey, SYSTEM_QUOTAS_KEY } from "./keys";
import { QUOTA_WINDOWS, type QuotaDefaultsForm, type QuotaMap } from "./quota-schema";

/**
 * Quota defaults in the `settings` table, shared with the gateway: read as the gateway reads them,
 * written (whole replace, all 15 keys, one transaction with its audit row) as it writes them.
 */
export type SourceDefaults = {
  grantOnSignup: boolean;
  overrides: QuotaMap;
  /** false when the key does not exist (the gateway reports null for it) */
  configured: boolean;
  /** the stored value could not be read (overrides is then empty); while the switch is on, this
   *  source's new users get every cell disabled until it is saved again (signup-plan.ts) */
  unreadable: boolean;
};

export type QuotaDefaults = {
  /** the platform registry the maps cover, in its order (lib/db/platforms.ts) */
  platforms: readonly string[];
  system: QuotaMap;
  /** the stored system map could not be read (system is then empty); new users get every cell
   *  disabled unless a granted source override sets it, until it is saved again (signup-plan.ts) */
  systemUnreadable: boolean;
  sources: Record<AuthSource, SourceDefaults>;
  /** hash of the stored values: a save must present the version it was made from */
  version: string;
};

const SAVE_LOCK = 0x71635f71; // pg_advisory_xact_lock key of "quota defaults save"

type Queryable = Pick<pg.PoolClient, "query">;

async function readRaw(client: Queryable): Promise<Map<string, string>> {
  const { rows } = await client.query<{ key: string; value: string }>(
    "SELECT key, value FROM settings WHERE key = ANY($1::text[])",
    [QUOTA_DEFAULT_KEYS],
  );
  return new Map(rows.map((r) => [r.key, r.value]));
}

function versionOf(raw: Map<string, string>): string {
  const h = createHash("sha256");
  for (const k of QUOTA_DEFAULT_KEYS) h.update(`${k}\u0000${raw.has(k) ? raw.get(k) : "\u0001"}\u0000`);
  return h.digest("hex").slice(0, 32);
}

function fromRaw(raw: Map<string, string>, platforms: readonly string[]): QuotaDefaults {
  const sys = decodeQuotaMap(raw.get(SYSTEM_QUOTAS_KEY), platforms);
  const sources = {} as Record<AuthSource, SourceDefaults>;
  for (const s of AUTH_SOURCES) {
    const d = decodeQuotaMap(raw.get(sourceQuotasKey(s)), platforms);
    sources[s] = {
      grantOnSignup: raw.get(sourceGrantKey(s)) === "true",
      overrides: d.map,
      configured: d.present,
      unreadable: !d.ok,
    };
  }
  return { platforms, system: sys.map, systemUnreadable: !sys.ok, sources, version: versionOf(raw) };
}

/** The quota defaults as stored now, over the registry `platforms` (the app's by default). */
export async function readQuotaDefaults(
  client: Queryable = pgPool(),
  platforms?: readonly string[],
): Promise<QuotaDefaults> {
  return fromRaw(await readRaw(client), platforms ?? (await appPlatforms()));
}

function diffMaps(platforms: readonly string[], key: string, before: QuotaMap, after: QuotaMap, out: AuditChange[]) {
  for (const p of platforms) {
    for (const w of QUOTA_WINDOWS) {
      if (before[p][w] !== after[p][w])
        out.push({ key, platform: p, window: w, before: before[p][w], after: after[p][w] });
    }
  }
}

export type SaveResult = { ok: true; data: QuotaDefaults; changed: number } | { ok: false; code: "CONFLICT" };

/**
 * Whole-replace save of the system default and all 7 sources (maps and grant flags). Refused with
 * CONFLICT when the stored values changed since `form.version` was read (no lost update between
 * two admins). Keys, audit row and version check run in one transaction under an advisory lock.
 */
export async function saveQuotaDefaults(
  form: QuotaDefaultsForm,
  actor: AuditActor,
  /** the registry the form was validated against (quotaDefaultsFormSchema) and the pool: the app's by default */
  opts: { platforms?: readonly string[]; pool?: pg.Pool } = {},
): Promise<SaveResult> {
  const platforms = opts.platforms ?? (await appPlatforms());
  return withTransaction<SaveResult>(opts.pool ?? pgPool(), async (client) => {
    await client.query("SELECT pg_advisory_xact_lock($1)", [SAVE_LOCK]);
    const raw = await readRaw(client);
    if (versionOf(raw) !== form.version) return rollback({ ok: false, code: "CONFLICT" });
    const before = fromRaw(raw, platforms);
    const next = new Map<string, string>([[SYSTEM_QUOTAS_KEY, encodeQuotaMap(form.system)]]);
    for (const s of AUTH_SOURCES) {
      next.set(sourceQuotasKey(s), encodeQuotaMap(form.sources[s].overrides));
      next.set(sourceGrantKey(s), form.sources[s].grantOnSignup ? "true" : "false");
    }
    const writes = [...next].filter(([k, v]) => raw.get(k) !== v);
    if (writes.length) {
      await client.query(
        `INSERT INTO settings (key, value, updated_at) SELECT k, v, now() FROM unnest($1::text[], $2::text[]) AS t(k, v)
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
        [writes.map(([k]) => k), writes.map(([, v]) => v)],
      );
    }
    const changes: AuditChange[] = [];
    diffMaps(platforms, SYSTEM_QUOTAS_KEY, before.system, form.system, changes);
    for (const s of AUTH_SOURCES) {
      diffMaps(platforms, sourceQuotasKey(s), before.sources[s].overrides, form.sources[s].overrides, changes);
      if (before.sources[s].grantOnSignup !== form.sources[s].grantOnSignup) {
        changes.push({
          key: sourceGrantKey(s),
          before: before.sources[s].grantOnSignup,
          after: form.sources[s].grantOnSignup,
        });
      }
    }
    if (changes.length || writes.length) {
      await recordAudit(client, {
        actor,
        action: "settings.quota_defaults.update",
        targetType: "settings",
        targetId: "quota_defaults",
        changes,
      });
    }
    // Read back under the lock, before COMMIT: exactly what this save stored.
    return { ok: true, data: fromRaw(await readRaw(client), platforms), changed: changes.length };
  });
}
