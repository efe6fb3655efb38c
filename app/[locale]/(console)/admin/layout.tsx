import type { ReactNode } from "react";

import { ClientMessages } from "@/components/shell/client-messages";
import { requireAdmin } from "@/lib/auth/guards";

// Every admin page also checks for itself; this stops a non-admin before any admin UI renders.
export default async function AdminLayout({ children }: { children: ReactNode }) {
  await requireAdmin();
  // What the admin pages' client components use (users table and quota modal, settings forms, cache
  // panel, audit undo, the modal's and the overview's spend charts).
  return (
    <ClientMessages
      namespaces={
        [
          ...["AdminUsers", "UserQuotaModal", "Platforms", "Sources", "QuotaErrors", "QuotaMatrix"],
          ...["AdminSettings", "SettingsHealth", "CacheHealth", "AdminAudit", "UsageHistory", "AdminTransfer"],
        ] as const
      }
    >
      {children}
    </ClientMessages>
  );
}
