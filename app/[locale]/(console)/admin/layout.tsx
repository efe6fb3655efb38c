import type { ReactNode } from "react";

import { requireAdmin } from "@/lib/auth/guards";

// Every admin page also checks for itself; this stops a non-admin before any admin UI renders.
export default async function AdminLayout({ children }: { children: ReactNode }) {
  await requireAdmin();
  return children;
}
