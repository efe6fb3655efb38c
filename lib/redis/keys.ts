/**
 * Every Redis key this application reads or writes, built in one place.
 *
 * | key                                         | type   | TTL                  | writer            |
 * |---------------------------------------------|--------|----------------------|-------------------|
 * | qc:login:fail:acct:{sha256(email)[0:32]}    | STRING | LOGIN_WINDOW_SECONDS | console (sign-in) |
 * | qc:login:fail:ip:{ip}                       | STRING | LOGIN_WINDOW_SECONDS | console (sign-in) |
 *
 * The console's own keys start with `qc:` so they can never collide with the gateway's
 * (`billing:…`, `apikey:…`), whose exact layouts are fixed by the gateway (spec §6, §11) and are
 * added to this table by lib/billing.
 */
export const CONSOLE_KEY_PREFIX = "qc:";

export function loginFailureKeys(accountId: string, ip: string) {
  return {
    account: `${CONSOLE_KEY_PREFIX}login:fail:acct:${accountId}`,
    ip: `${CONSOLE_KEY_PREFIX}login:fail:ip:${ip || "unknown"}`,
  };
}
