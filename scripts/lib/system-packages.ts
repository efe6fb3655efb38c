import fs from "node:fs";
import path from "node:path";

import { postgresBinDir } from "./faults/postgres-cluster";
import { onPath } from "./run";

/**
 * The Debian packages the suite and the demo use from the machine — never downloaded by npm.
 * `npm run setup` installs the missing ones (scripts/setup.ts); `npm test` only says which are missing.
 */
export type SystemPackage = { pkg: string; why: string; present: () => boolean; optional?: boolean };

export const chromiumPath = () => process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const CJK_FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc";

export const PACKAGES = {
  chromium: {
    pkg: "chromium",
    why: "the e2e phase drives Debian's Chromium (CHROMIUM_PATH, default /usr/bin/chromium)",
    present: () => fs.existsSync(chromiumPath()),
  },
  fonts: {
    pkg: "fonts-noto-cjk",
    why: "readable Chinese in e2e screenshots",
    present: () => fs.existsSync(CJK_FONT),
    optional: true,
  },
  postgresql: {
    pkg: "postgresql",
    why: "throwaway PostgreSQL clusters (initdb) for tests and runs without a server",
    present: () => {
      const dir = postgresBinDir();
      return dir ? fs.existsSync(path.join(dir, "initdb")) : onPath("initdb");
    },
  },
  redis: {
    pkg: "redis-server",
    why: "private Redis servers for tests, the demo's cache, runs without a server",
    present: () => onPath("redis-server"),
  },
} satisfies Record<string, SystemPackage>;

export function missing(pkgs: SystemPackage[]): SystemPackage[] {
  return pkgs.filter((p) => !p.present());
}

/** What to tell someone who lacks `pkgs`. */
export function setupHint(pkgs: SystemPackage[]): string {
  const names = pkgs.map((p) => p.pkg).join(" ");
  return `missing ${pkgs.map((p) => `${p.pkg} (${p.why})`).join(", ")}: run \`npm run setup\` (as root it runs apt-get; otherwise: sudo apt-get install -y ${names})`;
}
