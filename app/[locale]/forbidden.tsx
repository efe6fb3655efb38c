import { useTranslations } from "next-intl";

import { StatusPage } from "@/components/shell/status-page";

export default function Forbidden() {
  const t = useTranslations("Forbidden");
  return <StatusPage code="403" title={t("title")} body={t("body")} />;
}
