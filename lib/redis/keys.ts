/**
 * Every Redis key this application reads or writes, built in one place
 * (tests/unit/keys.test.ts pins the exact strings).
 *
 * | key                                            | type   | TTL                              | writer                         |
 * |------------------------------------------------|--------|----------------------------------|--------------------------------|
 * | billing:user_platform_quota:{userID}:{platform}| HASH   | 86400 s (sentinel 3600 s)        | gateway + lib/billing          |
 * | billing:upq:dirty                              | SET    | 86400 s, refreshed on each SADD  | gateway + lib/billing (Lua)    |
 * | billing:balance:{userID}                       | STRING | 270–300 s (jittered)             | gateway + lib/billing          |
 * | billing:sub:{userID}:{groupID}                 | HASH   | 270–300 s (jittered)             | gateway + lib/billing          |
 * | apikey:rate:{apiKeyID}                         | HASH   | 604800 s                         | gateway + lib/billing          |
 * | qc:login:fail:acct:{sha256(email)[0:32]}       | STRING | LOGIN_WINDOW_SECONDS             | console (sign-in)              |
 * | qc:login:fail:ip:{ip}                          | STRING | LOGIN_WINDOW_SECONDS             | console (sign-in)              |
 * | qc:register:ip:{ip}                            | STRING | 3600 s                           | console (register)             |
 *
 * The `billing:` and `apikey:` layouts are fixed by the Go gateway (spec §6, §11) — never change
 * them. The console's own keys start with `qc:` so they cannot collide with the gateway's.
 * Note for Redis Cluster: the quota increment script touches a quota hash and the dirty set in
 * one call, and they share no hash tag; the gateway assumes a single Redis instance, so do we.
 */
export const CONSOLE_KEY_PREFIX = "qc:";

/** Base-10 user / group / key id as Go's %d prints it. */
function id(n: number | bigint): string {
  if (typeof n === "number" && !Number.isSafeInteger(n)) throw new Error(`invalid id ${n}`);
  return n.toString();
}

export const billingKeys = {
  userPlatformQuota: (userId: number | bigint, platform: string) => `billing:user_platform_quota:${id(userId)}:${platform}`,
  dirtySet: "billing:upq:dirty",
  dirtyMember: (userId: number | bigint, platform: string) => `${id(userId)}:${platform}`,
  balance: (userId: number | bigint) => `billing:balance:${id(userId)}`,
  subscription: (userId: number | bigint, groupId: number | bigint) => `billing:sub:${id(userId)}:${id(groupId)}`,
  apiKeyRateLimit: (apiKeyId: number | bigint) => `apikey:rate:${id(apiKeyId)}`,
} as const;

/** Split a dirty-set member at the first ':' (Go: the part before must parse as int64). */
export function parseDirtyMember(member: string): { userId: number; platform: string } | null {
  const i = member.indexOf(":");
  if (i <= 0) return null;
  const head = member.slice(0, i);
  if (!/^[+-]?\d+$/.test(head)) return null;
  const userId = Number(head);
  if (!Number.isSafeInteger(userId)) return null;
  return { userId, platform: member.slice(i + 1) };
}

export function loginFailureKeys(accountId: string, ip: string) {
  return {
    account: `${CONSOLE_KEY_PREFIX}login:fail:acct:${accountId}`,
    ip: `${CONSOLE_KEY_PREFIX}login:fail:ip:${ip || "unknown"}`,
  };
}

export function registrationKey(ip: string) {
  return `${CONSOLE_KEY_PREFIX}register:ip:${ip || "unknown"}`;
}
