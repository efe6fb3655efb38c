import { useTranslations } from "next-intl";

import { StatusPage } from "@/components/shell/status-page";

export default function NotFound() {
  const t = useTranslations("NotFound");
  return <StatusPage code="404" title={t("title")} body={t("body")} />;
}
