import "server-only";

import { createHash } from "node:crypto";
import type pg from "pg";

import { recordAudit } from "@/lib/audit/audit";
import { env } from "@/lib/config/env";
import { pgPool } from "@/lib/db/client";
import { rollback, withTransaction } from "@/lib/db/transaction";

import { CONSOLE_REGISTRATION_KEY } from "./keys";

/**
 * Whether the public register page creates accounts.
 *
 * Attached to a live gateway (GATEWAY_DATABASE=attached), sign-up is the gateway's: it is
 * delegated, the register page says so, and nothing here creates accounts — the gateway's own
 * registration enforces rules the console does not share (e-mail verification codes, invitation
 * and promo codes, alias and domain dedup, its own `registration_enabled` and backend mode), so a
 * second door beside it would be a way around them. The settings page shows the gateway's switch
 * read-only. Standalone, two switches, both must be on:
 *
 * - `REGISTRATION_ENABLED` (env, default false) is the operator's hard switch. Off, the page is
 *   closed whatever the admin setting says, and no query is made.
 * - the admin's soft switch on Admin → Settings, stored as CONSOLE_REGISTRATION_KEY in `settings`
 *   (default: no row = off), so an operator who turns the env on still opens nothing until an
 *   admin decides to.
 *
 * Fails closed: an unreadable setting is off; a database error propagates (the action then answers
 * INTERNAL_ERROR and creates nothing).
 */
export type RegistrationSetting = {
  /** REGISTRATION_ENABLED */
  envEnabled: boolean;
  /** the admin's switch as stored */
  settingEnabled: boolean;
  /** both: the register page creates accounts */
  open: boolean;
  /** hash of the stored value (or its absence): a save must present the version it was made from */
  version: string;
  /** attached mode: sign-up is the gateway's; `open` is false and the admin's switch cannot be saved */
  delegated: boolean;
  /** attached mode: the gateway's own registration as its settings say (missing rows = off), else null */
  gateway: { registrationEnabled: boolean; backendMode: boolean } | null;
};

type Queryable = Pick<pg.PoolClient, "query">;

const SAVE_LOCK = 0x71635f72; // pg_advisory_xact_lock key of "registration setting save" (quota defaults use …71)

const envEnabled = () => env().REGISTRATION_ENABLED === "true";
const delegated = () => env().GATEWAY_DATABASE === "attached";

async function readRaw(client: Queryable): Promise<string | null> {
  const { rows } = await client.query<{ value: string }>("SELECT value FROM settings WHERE key = $1", [
    CONSOLE_REGISTRATION_KEY,
  ]);
  return rows[0]?.value ?? null;
}

function versionOf(raw: string | null): string {
  return createHash("sha256")
    .update(raw === null ? "\u0001" : `=${raw}`)
    .digest("hex")
    .slice(0, 16);
}

function fromRaw(raw: string | null, gateway: RegistrationSetting["gateway"] = null): RegistrationSetting {
  const settingEnabled = raw === "true";
  const open = !delegated() && envEnabled() && settingEnabled;
  return { envEnabled: envEnabled(), settingEnabled, open, version: versionOf(raw), delegated: delegated(), gateway };
}

/**
 * Both switches and their combination, for the settings page; attached, with the gateway's own
 * switches in the same query (docs/gateway/schema.md §3: exactly "true" is on, a missing row off).
 */
export async function readRegistrationSetting(client: Queryable = pgPool()): Promise<RegistrationSetting> {
  if (!delegated()) return fromRaw(await readRaw(client));
  const { rows } = await client.query<{ key: string; value: string }>(
    "SELECT key, value FROM settings WHERE key IN ($1, 'registration_enabled', 'backend_mode_enabled')",
    [CONSOLE_REGISTRATION_KEY],
  );
  const value = (key: string) => rows.find((r) => r.key === key)?.value ?? null;
  return fromRaw(value(CONSOLE_REGISTRATION_KEY), {
    registrationEnabled: value("registration_enabled") === "true",
    backendMode: value("backend_mode_enabled") === "true",
  });
}

/** Whether the register page is open now (no query while the env switch is off or sign-up is delegated). */
export async function isRegistrationOpen(client: Queryable = pgPool()): Promise<boolean> {
  if (delegated() || !envEnabled()) return false;
  return (await readRaw(client)) === "true";
}

export type SaveRegistrationResult =
  | { ok: true; data: RegistrationSetting; changed: boolean }
  | { ok: false; code: "CONFLICT" | "REGISTRATION_DELEGATED" };

/**
 * Set the admin's switch. Refused with CONFLICT when the stored value changed since `version` was
 * read (two admins); value, version check and audit row in one transaction under an advisory lock.
 */
export async function saveRegistrationSetting(
  input: { enabled: boolean; version: string },
  actor: { id: number; email: string },
): Promise<SaveRegistrationResult> {
  if (delegated()) return { ok: false, code: "REGISTRATION_DELEGATED" };
  return withTransaction<SaveRegistrationResult>(pgPool(), async (client) => {
    await client.query("SELECT pg_advisory_xact_lock($1)", [SAVE_LOCK]);
    const raw = await readRaw(client);
    if (versionOf(raw) !== input.version) return rollback({ ok: false, code: "CONFLICT" });
    const next = input.enabled ? "true" : "false";
    const changed = (raw === "true") !== input.enabled;
    if (raw !== next) {
      await client.query(
        `INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, now())
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
        [CONSOLE_REGISTRATION_KEY, next],
      );
    }
    if (changed) {
      await recordAudit(client, {
        actor,
        action: "settings.registration.update",
        targetType: "settings",
        targetId: "registration",
        changes: [{ key: CONSOLE_REGISTRATION_KEY, before: raw === "true", after: input.enabled }],
      });
    }
    return { ok: true, data: fromRaw(next), changed };
  });
}
