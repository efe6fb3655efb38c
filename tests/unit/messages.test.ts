import { describe, expect, it } from "vitest";

import { AUTH_SOURCES } from "@/lib/auth-sources";
import { PLATFORMS } from "@/lib/billing/platforms";
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

/** ICU argument names used by a message ({name}, {n, plural, …}). */
function argNames(message: string): string[] {
  return [...new Set([...message.matchAll(/\{\s*([A-Za-z_]\w*)\s*[,}]/g)].map((m) => m[1]))].sort();
}

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
    for (const p of PLATFORMS) expect(enKeys.has(`Platforms.${p}`), p).toBe(true);
    for (const s of AUTH_SOURCES) expect(enKeys.has(`Sources.${s}`), s).toBe(true);
  });

  it("uses the gateway's own Chinese terms (spec §8.7)", () => {
    expect(zhKeys.get("AdminSettings.monthlyNotice")).toBe("月限额为 30 天滚动窗口，非自然月");
  });
});
