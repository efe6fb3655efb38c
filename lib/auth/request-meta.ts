import "server-only";
import { headers } from "next/headers";
import { env } from "@/lib/config/env";

/**
 * The client IP used for sign-in throttling. Behind a reverse proxy you control, set
 * TRUST_PROXY=true and the left-most X-Forwarded-For entry (the original client) is used.
 * Otherwise only the right-most entry counts — the hop appended by the server in front of us —
 * so a client cannot pick its own IP by sending the header.
 */
export async function requestMeta(): Promise<{ ip: string; userAgent: string | null }> {
  const h = await headers();
  const forwarded = (h.get("x-forwarded-for") ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  const ip = (env().TRUST_PROXY === "true" ? forwarded[0] : forwarded.at(-1)) ?? h.get("x-real-ip") ?? "unknown";
  return { ip: ip.slice(0, 64), userAgent: h.get("user-agent") };
}
