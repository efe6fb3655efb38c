import "server-only";

import { redis } from "@/lib/redis/client";
import { registrationKey } from "@/lib/redis/keys";

import { clientThrottleKey } from "./client-ip";

/**
 * Registration throttling per client. Sign-in throttling lives in lib/auth/sign-in-throttle.ts.
 *
 * Counters live in Redis so that every console instance shares them. When Redis is not
 * configured or fails, a per-process memory counter takes over (fail-closed: throttling never
 * silently turns off, it only becomes per instance).
 */
export type LoginGate = { allowed: true } | { allowed: false; retryAfterSeconds: number };

const memory = new Map<string, { count: number; resetAt: number }>();

function memoryRead(key: string, now: number) {
  const e = memory.get(key);
  if (!e || e.resetAt <= now) return { count: 0, ttl: 0 };
  return { count: e.count, ttl: Math.ceil((e.resetAt - now) / 1000) };
}

function memoryFail(key: string, now: number, windowSeconds: number) {
  const e = memory.get(key);
  if (!e || e.resetAt <= now) memory.set(key, { count: 1, resetAt: now + windowSeconds * 1000 });
  else e.count += 1;
  if (memory.size > 50_000) {
    for (const [k, v] of memory) if (v.resetAt <= now) memory.delete(k);
  }
}

// Sign-ups per IP: at most REGISTER_MAX per hour (spam protection for the public register page).
const REGISTER_MAX = 10;
const REGISTER_WINDOW_SECONDS = 3600;

/** Whether this IP may create another account now; counts the attempt when it may. */
export async function takeRegistrationSlot(ip: string): Promise<LoginGate> {
  const key = registrationKey(clientThrottleKey(ip)); // an IPv6 client counts per /64, as at sign-in
  const r = redis();
  if (r) {
    try {
      const [count, ttl] = (await r.multi().incr(key).expire(key, REGISTER_WINDOW_SECONDS, "NX").ttl(key).exec())!.map(
        ([, v]) => Number(v),
      );
      return count > REGISTER_MAX
        ? { allowed: false, retryAfterSeconds: ttl > 0 ? ttl : REGISTER_WINDOW_SECONDS }
        : { allowed: true };
    } catch {
      // fall back to memory below
    }
  }
  const now = Date.now();
  memoryFail(key, now, REGISTER_WINDOW_SECONDS);
  const e = memoryRead(key, now);
  return e.count > REGISTER_MAX ? { allowed: false, retryAfterSeconds: e.ttl } : { allowed: true };
}
