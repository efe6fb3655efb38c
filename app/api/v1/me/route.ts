import { NextResponse } from "next/server";
import { jsonRoute } from "@/lib/api/route";
import { requireApiUser } from "@/lib/auth/guards";
import { getUser } from "@/lib/users/users";

export const dynamic = "force-dynamic";

/** The signed-in user's own account (id from the session only). */
export const GET = jsonRoute(async () => {
  const { user, denied } = await requireApiUser();
  if (denied) return denied;
  const me = await getUser(user.id);
  if (!me) return NextResponse.json({ code: 401, message: "UNAUTHENTICATED" }, { status: 401 });
  return NextResponse.json({ code: 0, message: "success", data: me }, { headers: { "Cache-Control": "no-store" } });
});
