import "server-only";

import { getLocale } from "next-intl/server";
import { forbidden, redirect } from "next/navigation";
import type { NextResponse } from "next/server";

import { forbiddenEnvelope, unauthenticatedEnvelope } from "@/lib/api/envelope";
import { envelopeResponse } from "@/lib/api/response";

import { getSessionUser, type SessionUser } from "./session";

/**
 * Page guards. Each page and layout calls one of these itself: a layout's check does not protect
 * a page that is rendered or navigated to on its own, nor a server action.
 */
export async function requireUser(): Promise<SessionUser> {
  const user = await getSessionUser();
  if (!user) redirect(`/${await getLocale()}/sign-in`);
  return user;
}

/** Signed-in admins only; others get the 403 page (`forbidden.tsx`). */
export async function requireAdmin(): Promise<SessionUser> {
  const user = await requireUser();
  if (user.role !== "admin") forbidden();
  return user;
}

/** Route-handler guard: the user, or a 401/403 JSON response to return as is. */
export async function requireApiUser(
  role: "user" | "admin" = "user",
): Promise<{ user: SessionUser; denied?: undefined } | { user?: undefined; denied: NextResponse }> {
  const user = await getSessionUser();
  if (!user) return { denied: envelopeResponse(unauthenticatedEnvelope()) };
  if (role === "admin" && user.role !== "admin") return { denied: envelopeResponse(forbiddenEnvelope()) };
  return { user };
}
