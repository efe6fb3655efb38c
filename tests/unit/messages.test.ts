import fs from "node:fs";
import { parse, TYPE, type MessageFormatElement } from "@formatjs/icu-messageformat-parser";
import { describe, expect, it } from "vitest";

import { AUTH_SOURCES } from "@/lib/auth-sources";
import { DEFAULT_PLATFORMS } from "@/lib/billing/platforms";
import en from "@/messages/en.json";
import zh from "@/messages/zh.json";

type Tree = { [k: string]: string | Tree };

function flatten(tree: Tree, prefix = ""): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(tree)) {
    if (typeof v === "string") out.set(prefix + k, v);
    else for (const [kk, vv] of flatten(v, `${prefix}${k}.`)) out.set(kk, vv);
  }
  return out;
}

/**
 * ICU argument names used by a message ({name}, {n, plural, …}, inside select/plural branches too),
 * read by the ICU parser next-intl itself uses, so branch text such as `{LinuxDo}` is not an argument.
 */
function argNames(message: string): string[] {
  const names = new Set<string>();
  const walk = (nodes: MessageFormatElement[]) => {
    for (const n of nodes) {
      if ("value" in n && typeof n.value === "string" && n.type !== TYPE.literal) names.add(n.value);
      if ("options" in n) for (const o of Object.values(n.options)) walk(o.value);
      if ("children" in n) walk(n.children);
    }
  };
  walk(parse(message));
  return [...names].sort();
}

/** The gateway's strings: spec §8.7's table rows `| \`key\` | en | zh |`. */
function gatewayStrings(): Map<string, { en: string; zh: string }> {
  const out = new Map<string, { en: string; zh: string }>();
  for (const line of fs.readFileSync("docs/spec/sub2api-quota-feature.md", "utf8").split("\n")) {
    const cells = line.match(/^\| `([^`]+)`[^|]*\|([^|]*)\|([^|]*)\|/);
    if (cells) out.set(cells[1], { en: cells[2].trim(), zh: cells[3].trim() });
  }
  return out;
}

/** Gateway message key → the console's key for the same string. */
const SHARED_WITH_GATEWAY: Array<[string, string]> = [
  ["dashboard.platformQuota.title", "Dashboard.quotaTitle"],
  ["dashboard.platformQuota.daily", "Dashboard.daily"],
  ["dashboard.platformQuota.weekly", "Dashboard.weekly"],
  ["dashboard.platformQuota.monthly", "Dashboard.monthly"],
  ["dashboard.platformQuota.resetsAt", "Dashboard.resetsAt"],
  ["dashboard.platformQuota.noLimit", "Dashboard.unlimited"],
  ["dashboard.platformQuota.disabled", "Dashboard.disabled"],
  ["admin.users.platformQuota.menuItem", "UserQuotaModal.title"],
  ["admin.users.platformQuota.title", "UserQuotaModal.title"],
  ["admin.users.platformQuota.subtitle", "UserQuotaModal.subtitle"],
  ["admin.users.platformQuota.columns.platform", "UserQuotaModal.platform"],
  ["admin.users.platformQuota.columns.daily", "UserQuotaModal.daily"],
  ["admin.users.platformQuota.columns.weekly", "UserQuotaModal.weekly"],
  ["admin.users.platformQuota.columns.monthly", "UserQuotaModal.monthly"],
  ["admin.users.platformQuota.placeholder", "UserQuotaModal.placeholder"],
  ["admin.users.platformQuota.save", "UserQuotaModal.save"],
  ["admin.users.platformQuota.saving", "UserQuotaModal.saving"],
  ["admin.users.platformQuota.cancel", "UserQuotaModal.cancel"],
  ["admin.users.platformQuota.clearAll", "UserQuotaModal.clearAll"],
  ["admin.users.platformQuota.clearAllConfirm", "UserQuotaModal.clearAllConfirm"],
  ["admin.users.platformQuota.reset.confirm", "UserQuotaModal.resetConfirm"],
  ["admin.users.platformQuota.reset.success", "UserQuotaModal.resetSuccess"],
  ["admin.users.platformQuota.reset.failed", "UserQuotaModal.resetFailed"],
  ["admin.users.platformQuota.updateSuccess", "UserQuotaModal.updateSuccess"],
  ["admin.users.platformQuota.updateFailed", "UserQuotaModal.updateFailed"],
  ["admin.users.platformQuota.loadFailed", "UserQuotaModal.loadFailed"],
  ["admin.users.platformQuota.windowDaily", "UserQuotaModal.windowDaily"],
  ["admin.users.platformQuota.windowWeekly", "UserQuotaModal.windowWeekly"],
  ["admin.users.platformQuota.windowMonthly", "UserQuotaModal.windowMonthly"],
  ["admin.users.platformQuota.cellNotConfigured", "AdminUsers.notConfigured"],
  ["admin.users.platformQuota.invalidNumber", "UserQuotaModal.invalidNumber"],
  ["admin.users.platformQuota.subscriptionWarning", "UserQuotaModal.subscriptionWarning"],
  ["admin.settings.defaults.defaultPlatformQuotas", "AdminSettings.defaultPlatformQuotas"],
  ["admin.settings.defaults.defaultPlatformQuotasHint", "AdminSettings.defaultPlatformQuotasHint"],
  ["admin.settings.defaults.platformQuotaNotice", "AdminSettings.monthlyNotice"],
  ["admin.settings.platformQuota.platform", "AdminSettings.platform"],
  ["admin.settings.platformQuota.daily", "AdminSettings.daily"],
  ["admin.settings.platformQuota.weekly", "AdminSettings.weekly"],
  ["admin.settings.platformQuota.monthly", "AdminSettings.monthly"],
  ["admin.settings.platformQuota.placeholder", "AdminSettings.placeholder"],
  ["admin.settings.authSourceDefaults.platformQuotasOverride", "AdminSettings.platformQuotasOverride"],
  ["admin.settings.authSourceDefaults.platformQuotasOverrideHint", "AdminSettings.platformQuotasOverrideHint"],
  ["common.loading", "Common.loading"],
];

/**
 * English strings that differ from the gateway's in typography only: a status label starts with a
 * capital where ours stands alone in a cell, and a real ellipsis. The gateway's text is checked too, so
 * a change upstream shows here.
 */
const EN_TYPOGRAPHY: Record<string, { gateway: string; ours: string }> = {
  "dashboard.platformQuota.noLimit": { gateway: "unlimited", ours: "Unlimited" },
  "common.loading": { gateway: "Loading...", ours: "Loading…" },
};

const enKeys = flatten(en as Tree);
const zhKeys = flatten(zh as Tree);

describe("messages", () => {
  it("en.json and zh.json have identical key sets", () => {
    expect([...zhKeys.keys()].sort()).toEqual([...enKeys.keys()].sort());
  });

  it("every message is non-empty and uses the same arguments in both languages", () => {
    for (const [key, value] of enKeys) {
      const other = zhKeys.get(key) ?? "";
      expect(value.trim(), `en ${key}`).not.toBe("");
      expect(other.trim(), `zh ${key}`).not.toBe("");
      expect(argNames(other), key).toEqual(argNames(value));
    }
  });

  it("names every registry platform and every auth source", () => {
    for (const p of DEFAULT_PLATFORMS) expect(enKeys.has(`Platforms.${p}`), p).toBe(true);
    for (const s of AUTH_SOURCES) expect(enKeys.has(`Sources.${s}`), s).toBe(true);
  });

  // Where the console shows a string the gateway's UI also shows, it is the gateway's own wording, in
  // both languages (spec §8.7's table, read from docs/): an operator moving between the gateway's admin
  // and this console meets the same terms.
  it("uses the gateway's own wording, en and zh, for every string it shares with the gateway's UI (spec §8.7)", () => {
    const spec = gatewayStrings();
    for (const [gatewayKey, ours] of SHARED_WITH_GATEWAY) {
      const want = spec.get(gatewayKey);
      expect(want, `spec §8.7 has ${gatewayKey}`).toBeDefined();
      if (EN_TYPOGRAPHY[gatewayKey]) expect(want!.en).toBe(EN_TYPOGRAPHY[gatewayKey].gateway);
      expect(enKeys.get(ours), `en ${ours} = gateway ${gatewayKey}`).toBe(EN_TYPOGRAPHY[gatewayKey]?.ours ?? want!.en);
      expect(zhKeys.get(ours), `zh ${ours} = gateway ${gatewayKey}`).toBe(want!.zh);
    }
  });
});
