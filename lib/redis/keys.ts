/**
 * The console's own Redis keys (sign-in and registration throttling). The billing chain's keys —
 * the gateway's `billing:` layouts and the ledger's `qc:billing:` bookkeeping — live in
 * lib/billing/keys.ts with their table (tests/unit/billing-encoding.test.ts "Redis keys" pins both).
 *
 * | key                                            | type   | TTL                  | writer            |
 * |------------------------------------------------|--------|----------------------|-------------------|
 * | qc:login:pair:{account}:c:{client}             | HASH   | 24 h after last try  | console (sign-in) |
 * | qc:login:pair:{account}:d:{device}             | HASH   | 24 h after last try  | console (sign-in) |
 * | qc:login:fail:ip:{client}                      | STRING | LOGIN_WINDOW_SECONDS | console (sign-in) |
 * | qc:login:fail:acct:{account}                   | STRING | LOGIN_ACCOUNT_WINDOW_SECONDS | console (sign-in) |
 * | qc:register:ip:{ip}                            | STRING | 3600 s               | console (register)|
 *
 * Sign-in: {account} is `u:<user id>` or `e:<sha256(normalised e-mail)[0:32]>` (no address is
 * stored); {client} an IPv4 address or an IPv6 /64 (lib/auth/client-ip.ts); {device} a device
 * token's nonce (lib/auth/device-token.ts). The pair hash holds `n` (failures) and `last` (ms).
 * lib/auth/sign-in-throttle.ts documents the rules.
 */
export const CONSOLE_KEY_PREFIX = "qc:";

/** The three counters one sign-in attempt touches (lib/auth/sign-in-throttle.ts). */
export function signInThrottleKeys(account: string, pairClient: string, client: string) {
  return {
    pair: `${CONSOLE_KEY_PREFIX}login:pair:${account}:${pairClient}`,
    client: `${CONSOLE_KEY_PREFIX}login:fail:ip:${client || "unknown"}`,
    account: `${CONSOLE_KEY_PREFIX}login:fail:acct:${account}`,
  };
}

export function registrationKey(ip: string) {
  return `${CONSOLE_KEY_PREFIX}register:ip:${ip || "unknown"}`;
}
