import type { NextConfig } from "next";
import createNextIntlPlugin from "next-intl/plugin";

const withNextIntl = createNextIntlPlugin("./i18n/request.ts");

const nextConfig: NextConfig = {
  // forbidden() renders app/[locale]/forbidden.tsx with HTTP 403 for non-admins on admin pages.
  experimental: { authInterrupts: true },
  poweredByHeader: false,
  // PGlite (demo mode) and pg are loaded by Node at runtime, not bundled.
  serverExternalPackages: ["@electric-sql/pglite", "pg"],
};

export default withNextIntl(nextConfig);
