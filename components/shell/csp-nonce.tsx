"use client";

import { setNonce } from "get-nonce";

/**
 * Hands this response's CSP nonce to the `<style>` tags that libraries insert at run time
 * (Radix dialogs' scroll lock, via react-style-singleton's get-nonce): the CSP allows `<style>`
 * elements only with the nonce (lib/security/headers.ts). Browser only — on the server the
 * module-level value would be shared by concurrent requests.
 */
export function CspNonce({ nonce }: { nonce: string | null }) {
  if (typeof window !== "undefined" && nonce) setNonce(nonce);
  return null;
}
