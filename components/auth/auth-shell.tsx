import { getTranslations } from "next-intl/server";
import type { ReactNode } from "react";

import { LocaleSwitcher } from "@/components/shell/locale-switcher";

/** The signed-out pages' frame (sign-in, register): the app's name, the language switch, one card. */
export async function AuthShell({ children }: { children: ReactNode }) {
  const t = await getTranslations("Common");
  return (
    <main className="grid min-h-screen place-items-center px-4">
      <div className="w-full max-w-sm">
        <div className="mb-6 flex items-center justify-between">
          <span className="text-lg font-semibold">{t("appName")}</span>
          <LocaleSwitcher />
        </div>
        {children}
      </div>
    </main>
  );
}
