import { NextResponse } from "next/server";

import { guardedRoute } from "@/lib/api/route";
import { getUser } from "@/lib/users/users";

export const dynamic = "force-dynamic";

/** The signed-in user's own account (id from the session only). */
export const GET = guardedRoute("user", async (_req, _ctx, user) => {
  const me = await getUser(user.id);
  if (!me) return NextResponse.json({ code: 401, message: "UNAUTHENTICATED" }, { status: 401 });
  return NextResponse.json({ code: 0, message: "success", data: me }, { headers: { "Cache-Control": "no-store" } });
});
