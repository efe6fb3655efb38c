/**
 * A string from outside the catalog (an action's error code, a zod message, a password estimator's
 * reason) as a message key of a translator's namespace — the one place such a string becomes a
 * key, checked at run time by `t.has` (the keys themselves are typed by global.ts).
 *
 *   te(knownKey(te, r.code, "INTERNAL_ERROR"))   // the code's message, or the fallback's
 *   if (isKey(t, `errors.${code}`)) …             // narrows the string
 */
type HasKey<K extends string> = { has: (key: K) => boolean };

export function isKey<K extends string>(t: HasKey<K>, code: string | null | undefined): code is K {
  return typeof code === "string" && code !== "" && t.has(code as K);
}

export function knownKey<K extends string>(t: HasKey<K>, code: string | null | undefined, fallback: NoInfer<K>): K {
  return isKey(t, code) ? code : fallback;
}
