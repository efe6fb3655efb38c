/**
 * Every Redis key the billing chain reads or writes (the "Redis keys" block of
 * tests/unit/billing-encoding.test.ts pins the strings). The `billing:` and `apikey:` layouts are the Go gateway's (spec §6, §11) — never change
 * them. Everything the console adds to make the ledger exact lives under `qc:billing:`, so the
 * gateway's quota hash keeps exactly its 11 fields and the gateway never sees our bookkeeping.
 *
 * | key                                              | type   | TTL                                | writer                          |
 * |--------------------------------------------------|--------|------------------------------------|---------------------------------|
 * | billing:user_platform_quota:{userID}:{platform}  | HASH   | 86400 s (sentinel 3600 s)          | gateway + lib/billing           |
 * | billing:upq:dirty                                | SET    | 86400 s, refreshed on each SADD    | gateway + lib/billing (Lua)     |
 * | billing:balance:{userID}                         | STRING | 270–300 s (jittered)               | gateway + lib/billing           |
 * | billing:sub:{userID}:{groupID}                   | HASH   | 270–300 s (jittered)               | gateway + lib/billing           |
 * | apikey:rate:{apiKeyID}                           | HASH   | 604800 s                           | gateway + lib/billing           |
 * | qc:billing:fence:{userID}:{platform}             | HASH   | 86400 s, refreshed on each write   | lib/billing: `gen` (bumped when a rebuild from an older row must not land), `l:{op}` (lease of a usage op whose PostgreSQL write is not confirmed yet), `r:{window}` (last admin reset applied in place) |
 * | qc:billing:ops:{epoch}                           | STRING | 172800 s                           | lib/billing: 2 bits per usage op (0 unseen, 1 applied, 2 no-op, 3 cancelled) — makes every increment at-most-once and its fate queryable |
 * | qc:billing:journal / …:ops / …:claims             | ZSET / HASH / HASH | none (drained by the repairer) | lib/billing: usage ops whose PostgreSQL write failed, by due time / payload / claiming repairer |
 * | qc:billing:flushers                              | SET    | none                               | lib/billing flusher registry    |
 * | qc:billing:flusher:{id}                          | STRING | 15 s, renewed each tick            | flusher heartbeat               |
 * | qc:billing:flushing:{id}                         | SET    | 86400 s                            | members a flusher popped and has not committed yet |
 * | qc:billing:reconcile                             | STRING | 7 d                                | last drift check (JSON)         |
 * | qc:billing:lastflush                             | STRING | 7 d                                | when a lib/billing flusher last committed (ms) |
 *
 * Redis Cluster: the gateway's increment touches a quota hash and the dirty set with no shared
 * hash tag, and ours adds the fence and op keys; like the gateway we assume one Redis instance (or
 * a single-shard deployment).
 */

/** Base-10 user / group / key id as Go's %d prints it. */
function id(n: number | bigint): string {
  if (typeof n === "number" && !Number.isSafeInteger(n)) throw new Error(`invalid id ${n}`);
  return n.toString();
}

export const billingKeys = {
  userPlatformQuota: (userId: number | bigint, platform: string) =>
    `billing:user_platform_quota:${id(userId)}:${platform}`,
  /** Prefix of every quota hash (for SCAN). */
  userPlatformQuotaPrefix: "billing:user_platform_quota:",
  dirtySet: "billing:upq:dirty",
  dirtyMember: (userId: number | bigint, platform: string) => `${id(userId)}:${platform}`,
  balance: (userId: number | bigint) => `billing:balance:${id(userId)}`,
  subscription: (userId: number | bigint, groupId: number | bigint) => `billing:sub:${id(userId)}:${id(groupId)}`,
  apiKeyRateLimit: (apiKeyId: number | bigint) => `apikey:rate:${id(apiKeyId)}`,
} as const;

export const ledgerKeys = {
  fence: (userId: number | bigint, platform: string) => `qc:billing:fence:${id(userId)}:${platform}`,
  ops: (epoch: string) => `qc:billing:ops:${epoch}`,
  journal: "qc:billing:journal",
  journalOps: "qc:billing:journal:ops",
  journalClaims: "qc:billing:journal:claims",
  flushers: "qc:billing:flushers",
  flusherHeartbeat: (flusherId: string) => `qc:billing:flusher:${flusherId}`,
  flushing: (flusherId: string) => `qc:billing:flushing:${flusherId}`,
  reconcile: "qc:billing:reconcile",
  lastFlush: "qc:billing:lastflush",
} as const;

/** Split a quota hash key back into its user and platform (null for anything else). */
export function parseQuotaKey(key: string): { userId: number; platform: string } | null {
  if (!key.startsWith(billingKeys.userPlatformQuotaPrefix)) return null;
  return parseDirtyMember(key.slice(billingKeys.userPlatformQuotaPrefix.length));
}

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
