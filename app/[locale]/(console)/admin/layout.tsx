import type { ReactNode } from "react";

import { Providers } from "@/components/providers";
import { requireAdmin } from "@/lib/auth/guards";

// Every admin page also checks for itself; this stops a non-admin before any admin UI renders.
// Each admin page hands its client components their message namespaces itself (ClientMessages in
// the page): a set here would ship every admin page's messages on each of them (on the users page,
// 13 kB of settings, cache and audit messages — issue 14's HTML budget). A new admin page wraps
// its content in <ClientMessages namespaces={[…]}> with what its client components use.
export default async function AdminLayout({ children }: { children: ReactNode }) {
  await requireAdmin();
  // React Query for the admin pages' live panels and the quota modal; the dashboard and the shell
  // poll without it (lib/api/use-polled.ts), so it is not in their first-load JS.
  return <Providers>{children}</Providers>;
}
