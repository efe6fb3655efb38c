import "server-only";

import { headers } from "next/headers";

import { env } from "@/lib/config/env";

import { resolveClientAddress } from "./client-ip";

/**
 * The socket peer of this request as scripts/serve.mjs (`npm start`) reports it: in a header
 * whose name is random per process (QC_PEER_HEADER) and which the server overwrites on every
 * request, so a client cannot supply it. null under plain `next start` / `next dev`, which do
 * not expose the peer to the App Router.
 */
function peerAddress(h: Headers): string | null {
  const name = process.env.QC_PEER_HEADER;
  return name ? h.get(name) : null;
}

let warnedNoPeer = false;

/**
 * The client address used for throttling and stored with a session: the socket peer, or — only
 * behind proxies listed in TRUSTED_PROXIES — the address they forwarded (lib/auth/client-ip.ts).
 * "unknown" when the server cannot tell; all such requests then share one client's limits.
 */
export async function requestMeta(): Promise<{ ip: string; userAgent: string | null }> {
  const h = await headers();
  const peer = peerAddress(h);
  if (peer === null && !warnedNoPeer && process.env.NODE_ENV === "production") {
    warnedNoPeer = true;
    console.warn(
      "[request-meta] the socket peer address is unknown (not started with `npm start` / scripts/serve.mjs): per-client limits count every request as one client",
    );
  }
  const ip = resolveClientAddress(env().trustedProxies, peer, h.get("x-forwarded-for"));
  return { ip: ip.slice(0, 64), userAgent: h.get("user-agent") };
}
