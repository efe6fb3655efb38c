import "server-only";

import { ZxcvbnFactory } from "@zxcvbn-ts/core";
import * as zxcvbnCommon from "@zxcvbn-ts/language-common";
import * as zxcvbnEn from "@zxcvbn-ts/language-en";

import { MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARS } from "./password";

/**
 * The password policy for every password a person chooses here: registration today, and any
 * password change the console adds later (there is none yet) must call `checkPasswordPolicy` too.
 *
 * - at least MIN_PASSWORD_CHARS characters (code points) and at most MAX_PASSWORD_BYTES UTF-8
 *   bytes (bcrypt reads 72; the gateway's Go bcrypt refuses longer input);
 * - a zxcvbn-ts strength score of at least MIN_PASSWORD_SCORE (3: ≥ 10^8 estimated guesses),
 *   with the user's e-mail, its parts and the product's own words as user inputs, so
 *   `alice@example.com2024` is as weak as it looks.
 *
 * Server only: the dictionaries are ~1.6 MB, so the estimator never reaches the client bundle —
 * forms show the server's answer. `l33tMaxSubstitutions` is lowered from the library's 100 to 10:
 * with 100, a 72-byte string of l33t characters (`p4$$w0rd` × 9) costs ~1 s of CPU per check,
 * with 10 the worst we found is ~55 ms, and the verdicts on common l33t passwords
 * (`P@ssw0rd1`, `m0nk3y123`, `5up3rm4n`, …) do not change.
 */
export const MIN_PASSWORD_SCORE = 3;

/** The estimator's feedback, as its translation keys (translated on the client, messages PasswordPolicy.*). */
export type PasswordFeedback = { warning: string | null; suggestions: string[] };

export type PasswordPolicyResult =
  | { ok: true; score: number }
  | { ok: false; code: "PASSWORD_TOO_SHORT" | "TOO_LONG" }
  | { ok: false; code: "PASSWORD_WEAK"; score: number; feedback: PasswordFeedback };

/** Words anyone attacking this product would try first. */
const PRODUCT_WORDS = ["quota", "console", "sub2api", "gateway"];

let estimator: ZxcvbnFactory | undefined;

function zxcvbn(): ZxcvbnFactory {
  // Built once per process (~200 ms: the dictionaries are ranked on construction). No
  // `translations`: the feedback then comes back as plain keys, which the client translates.
  estimator ??= new ZxcvbnFactory({
    graphs: zxcvbnCommon.adjacencyGraphs,
    dictionary: { ...zxcvbnCommon.dictionary, ...zxcvbnEn.dictionary },
    l33tMaxSubstitutions: 10,
  });
  return estimator;
}

/** The e-mail and its parts, as the estimator's user inputs. */
export function passwordUserInputs(email: string | null | undefined): string[] {
  const e = (email ?? "").trim().toLowerCase();
  if (!e) return [...PRODUCT_WORDS];
  const [local, domain = ""] = e.split("@");
  const parts = [e, local, domain, ...local.split(/[._+-]+/), ...domain.split(".").slice(0, -1)];
  return [...new Set([...parts.filter((p) => p.length >= 3), ...PRODUCT_WORDS])];
}

/** Whether `password` may be set for the account with this e-mail, and if not, why. */
export function checkPasswordPolicy(password: string, opts: { email?: string | null } = {}): PasswordPolicyResult {
  if ([...password].length < MIN_PASSWORD_CHARS) return { ok: false, code: "PASSWORD_TOO_SHORT" };
  if (Buffer.byteLength(password, "utf8") > MAX_PASSWORD_BYTES) return { ok: false, code: "TOO_LONG" };
  const r = zxcvbn().check(password, passwordUserInputs(opts.email));
  if (r.score >= MIN_PASSWORD_SCORE) return { ok: true, score: r.score };
  return {
    ok: false,
    code: "PASSWORD_WEAK",
    score: r.score,
    feedback: { warning: r.feedback.warning || null, suggestions: r.feedback.suggestions },
  };
}
