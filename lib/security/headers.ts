/**
 * The security headers every response carries (set by proxy.ts, which runs on every request:
 * pages, route handlers, server-action POSTs, static assets, 404s and error pages).
 *
 * The CSP is nonce-based. Next.js reads the nonce from the request's `Content-Security-Policy`
 * header and puts it on its own inline and external scripts; `'strict-dynamic'` lets those load
 * the chunks they need. No `'unsafe-inline'` for scripts; `'unsafe-eval'` only under `next dev`
 * (React rebuilds server error stacks with eval there).
 *
 * Styles: `<style>` elements need the nonce too (Radix's scroll lock gets it through
 * components/shell/csp-nonce.tsx); stylesheets are same-origin files. Only style *attributes* are
 * allowed inline (`style-src-attr 'unsafe-inline'`): React renders `style={{ width }}` as an HTML
 * attribute on the server (the dashboard's quota bars) and an attribute can neither carry
 * selectors (no CSS exfiltration of the page) nor load anything beyond `img-src 'self'`.
 * `next dev` injects unnonced `<style>` tags for hot reload, so dev allows inline styles.
 *
 * No `upgrade-insecure-requests`: every URL the console loads is relative (same scheme as the
 * page), and behind HTTPS HSTS already covers the origin; on plain-http loopback (the demo, the
 * e2e server) it would send sub-requests to an https port that does not exist.
 */

/** A fresh, unpredictable CSP nonce: 128 random bits, base64. */
export function newNonce(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return btoa(String.fromCharCode(...bytes));
}

export type SecurityHeaderOptions = {
  nonce: string;
  /** `next dev`: allow eval (React's dev error stacks) and inline styles (hot reload). */
  dev: boolean;
  /** Cookies are `Secure` (served over HTTPS): add HSTS. */
  secure: boolean;
};

/** The Content-Security-Policy value for one response. */
export function contentSecurityPolicy({ nonce, dev }: SecurityHeaderOptions): string {
  const directives = [
    "default-src 'self'",
    `script-src 'self' 'nonce-${nonce}' 'strict-dynamic'${dev ? " 'unsafe-eval'" : ""}`,
    dev ? "style-src 'self' 'unsafe-inline'" : `style-src 'self' 'nonce-${nonce}'`,
    "style-src-attr 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ];
  return directives.join("; ");
}

/**
 * Browser features the console never uses, switched off for it and anything it might embed.
 * Only names Chromium recognises: an unknown one is logged as a console error on every page.
 */
export const PERMISSIONS_POLICY = [
  "accelerometer=()",
  "autoplay=()",
  "camera=()",
  "display-capture=()",
  "encrypted-media=()",
  "geolocation=()",
  "gyroscope=()",
  "hid=()",
  "magnetometer=()",
  "microphone=()",
  "midi=()",
  "payment=()",
  "publickey-credentials-get=()",
  "screen-wake-lock=()",
  "serial=()",
  "usb=()",
  "xr-spatial-tracking=()",
].join(", ");

/** Two years; no `preload` (that is a decision for whoever owns the domain). */
export const HSTS = "max-age=63072000; includeSubDomains";

/** Every security header for one response, by name. */
export function securityHeaders(opts: SecurityHeaderOptions): Record<string, string> {
  return {
    "Content-Security-Policy": contentSecurityPolicy(opts),
    // Older browsers ignore frame-ancestors; both say "never in a frame".
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": PERMISSIONS_POLICY,
    "Cross-Origin-Opener-Policy": "same-origin",
    ...(opts.secure ? { "Strict-Transport-Security": HSTS } : {}),
  };
}
