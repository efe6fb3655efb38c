import "server-only";

import { cookies } from "next/headers";

import { env } from "@/lib/config/env";

import { parseDeviceCookie, rememberDevice, serializeDeviceCookie, type DeviceEntry } from "./device-token";

/** How long a browser stays a known device of an account after its last successful sign-in. */
export const DEVICE_COOKIE_DAYS = 180;

/** `__Host-` (Secure, path=/, no Domain) whenever cookies are Secure, like the session cookie. */
export function deviceCookieName(): string {
  return env().cookieSecure ? "__Host-qc_device" : "qc_device";
}

/** This browser's valid device tokens (forged or malformed ones are ignored). */
export async function readKnownDevices(): Promise<DeviceEntry[]> {
  return parseDeviceCookie((await cookies()).get(deviceCookieName())?.value, env().sessionSecret);
}

/** Remember this browser as a known device of `userId` (after a successful sign-in). */
export async function rememberKnownDevice(entries: DeviceEntry[], userId: bigint, nonce: string): Promise<void> {
  const { sessionSecret, cookieSecure } = env();
  (await cookies()).set(
    deviceCookieName(),
    serializeDeviceCookie(rememberDevice(entries, userId, nonce), sessionSecret),
    {
      httpOnly: true,
      sameSite: "lax",
      secure: cookieSecure,
      path: "/",
      maxAge: DEVICE_COOKIE_DAYS * 86_400,
    },
  );
}
