import type { NextConfig } from "next";
import createNextIntlPlugin from "next-intl/plugin";

// precompile: the catalogs (messages/*.json, loaded by i18n/request.ts) are compiled from ICU to
// next-intl's compact form at build time, so neither the server nor the browser parses ICU at run
// time and the ICU parser is not shipped to the client (use-intl/format-message → format-only).
const withNextIntl = createNextIntlPlugin({
  requestConfig: "./i18n/request.ts",
  experimental: { messages: { path: "./messages", format: "json", locales: "infer", precompile: true } },
});

const nextConfig: NextConfig = {
  // forbidden() renders app/[locale]/forbidden.tsx with HTTP 403 for non-admins on admin pages.
  // serverActions.bodySizeLimit: an import's file travels in its action's body (lib/actions/transfer.ts,
  // at most 8 MB ≈ 130k user × platform lines); every other action's input is small, and every
  // action authenticates before it parses.
  experimental: { authInterrupts: true, serverActions: { bodySizeLimit: "9mb" } },
  poweredByHeader: false,
  // `npm start` (scripts/serve.mjs) compresses, with one flush per event-loop turn instead of
  // Next's flush after every streamed chunk; `next start` would serve uncompressed.
  compress: false,
  // PGlite (demo mode) and pg are loaded by Node at runtime, not bundled.
  serverExternalPackages: ["@electric-sql/pglite", "pg"],
};

export default withNextIntl(nextConfig);
