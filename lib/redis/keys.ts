/**
 * The console's own Redis keys (sign-in and registration throttling). The billing chain's keys —
 * the gateway's `billing:` layouts and the ledger's `qc:billing:` bookkeeping — live in
 * lib/billing/keys.ts with their table; they are re-exported here for older imports.
 *
 * | key                                            | type   | TTL                  | writer            |
 * |------------------------------------------------|--------|----------------------|-------------------|
 * | qc:login:fail:acct:{sha256(email)[0:32]}       | STRING | LOGIN_WINDOW_SECONDS | console (sign-in) |
 * | qc:login:fail:ip:{ip}                          | STRING | LOGIN_WINDOW_SECONDS | console (sign-in) |
 * | qc:register:ip:{ip}                            | STRING | 3600 s               | console (register)|
 */
export { billingKeys, parseDirtyMember } from "@/lib/billing/keys";

export const CONSOLE_KEY_PREFIX = "qc:";

export function loginFailureKeys(accountId: string, ip: string) {
  return {
    account: `${CONSOLE_KEY_PREFIX}login:fail:acct:${accountId}`,
    ip: `${CONSOLE_KEY_PREFIX}login:fail:ip:${ip || "unknown"}`,
  };
}

export function registrationKey(ip: string) {
  return `${CONSOLE_KEY_PREFIX}register:ip:${ip || "unknown"}`;
}
