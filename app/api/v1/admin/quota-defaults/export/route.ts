import { NextResponse } from "next/server";

import { guardedRoute } from "@/lib/api/route";
import { appPlatforms } from "@/lib/db/platforms";
import { readQuotaDefaults } from "@/lib/settings/store";
import { defaultsToJson } from "@/lib/settings/transfer";

export const dynamic = "force-dynamic";

/** GET /api/v1/admin/quota-defaults/export — the system and sign-up source defaults as a JSON file (admin only). */
export const GET = guardedRoute("admin", async () => {
  const platforms = await appPlatforms();
  const body = defaultsToJson(await readQuotaDefaults(undefined, platforms), platforms);
  const day = new Date().toISOString().slice(0, 10);
  return new NextResponse(body, {
    headers: {
      "Content-Type": "application/json; charset=utf-8",
      "Content-Disposition": `attachment; filename="quota-defaults-${day}.json"`,
      "Cache-Control": "no-store",
    },
  });
});
