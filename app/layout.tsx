import { connection } from "next/server";
import type { ReactNode } from "react";

import "./globals.css";

// The <html> element is rendered by app/[locale]/layout.tsx, which knows the language.
// Every page is rendered per request: its scripts carry that response's CSP nonce (proxy.ts), which
// a page prerendered at build time could not have — the root 404 included.
export default async function RootLayout({ children }: { children: ReactNode }) {
  await connection();
  return children;
}
