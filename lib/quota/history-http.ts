import { NextResponse } from "next/server";

/** The gateway's error envelope for a bad history query; `reason` is a key of messages "Errors". */
const TEXT = {
  INVALID_DAYS: "days must be an integer from 1 to 366",
  INVALID_PLATFORM: "unknown platform",
} as const;

export function badQuery(reason: keyof typeof TEXT): NextResponse {
  return NextResponse.json({ code: 400, message: TEXT[reason], reason }, { status: 400 });
}
