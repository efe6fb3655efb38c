import "server-only";

import { NextResponse } from "next/server";

import type { Envelope } from "./envelope";

/** An envelope (lib/api/envelope.ts) as Next's JSON response. */
export function envelopeResponse({ status, body, headers }: Envelope): NextResponse {
  return NextResponse.json(body, { status, headers });
}
