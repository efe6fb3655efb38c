import { PLATFORMS, type Platform } from "@/lib/billing/platforms";
import type { Limits, QuotaMap, QuotaWindow } from "./quota-schema";

export type Origin = "system" | "source";
export type EffectiveLimit = { value: number | null; origin: Origin };
export type EffectiveDefaults = Record<Platform, Record<QuotaWindow, EffectiveLimit>>;

/**
 * What a new user from a source gets (spec §2.2/§2.5): the system value per platform and window,
 * replaced by the source's override where the source's grant-on-sign-up switch is on and the
 * override is not null (null = inherit; a source cannot turn a system cap back into "unlimited").
 * Used by sign-up and by the settings page's preview, so both always agree.
 */
export function mergeSignupDefaults(system: QuotaMap, source: { grantOnSignup: boolean; overrides: QuotaMap } | null): EffectiveDefaults {
  const out = {} as EffectiveDefaults;
  for (const p of PLATFORMS) {
    const sys = system[p];
    const ovr = source?.grantOnSignup ? source.overrides[p] : null;
    const pick = (w: QuotaWindow): EffectiveLimit =>
      ovr && ovr[w] !== null ? { value: ovr[w], origin: "source" } : { value: sys[w], origin: "system" };
    out[p] = { daily: pick("daily"), weekly: pick("weekly"), monthly: pick("monthly") };
  }
  return out;
}

/** The limits part of an effective map (for the sign-up snapshot). */
export function effectiveLimits(e: EffectiveDefaults): Record<Platform, Limits> {
  const out = {} as Record<Platform, Limits>;
  for (const p of PLATFORMS) out[p] = { daily: e[p].daily.value, weekly: e[p].weekly.value, monthly: e[p].monthly.value };
  return out;
}
