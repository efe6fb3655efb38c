import { redirect } from "next/navigation";

import { getSessionUser } from "@/lib/auth/session";

export default async function LocaleHome({ params }: PageProps<"/[locale]">) {
  const { locale } = await params;
  const user = await getSessionUser();
  redirect(`/${locale}/${user ? "dashboard" : "sign-in"}`);
}
