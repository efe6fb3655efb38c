import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type Redis from "ioredis";

/**
 * A Lua script run as go-redis' Script.Run does: EVALSHA, and EVAL when the server answers
 * NOSCRIPT (after a restart or SCRIPT FLUSH). The SHA is computed once.
 *
 * The scripts live as files in lib/billing/lua/ (each with a KEYS/ARGV header), so the code the Go
 * side must match can be read and diffed on its own; `LuaScript.load("quota-increment", 4)` reads one.
 */
export class LuaScript {
  readonly sha: string;
  constructor(
    readonly name: string,
    readonly lua: string,
    readonly numberOfKeys: number,
  ) {
    this.sha = createHash("sha1").update(lua).digest("hex");
  }

  /** The script in lib/billing/lua/<name>.lua. */
  static load(name: string, numberOfKeys: number): LuaScript {
    return new LuaScript(name, fs.readFileSync(path.join(luaDir(), `${name}.lua`), "utf8"), numberOfKeys);
  }

  async run(redis: Redis, keys: string[], args: (string | number)[]): Promise<unknown> {
    if (keys.length !== this.numberOfKeys) throw new Error(`${this.name}: expected ${this.numberOfKeys} keys`);
    try {
      return await redis.evalsha(this.sha, this.numberOfKeys, ...keys, ...args);
    } catch (e) {
      if (e instanceof Error && e.message.startsWith("NOSCRIPT")) {
        return redis.eval(this.lua, this.numberOfKeys, ...keys, ...args);
      }
      throw e;
    }
  }
}

let dir: string | undefined;

/**
 * Where the .lua files are: next to this module when it runs from source (tsx, vitest, a Node
 * gateway importing lib/billing), else under the working directory (a Next.js server bundle runs
 * from the project root); QC_BILLING_LUA_DIR overrides both.
 */
function luaDir(): string {
  if (dir) return dir;
  const candidates = [
    process.env.QC_BILLING_LUA_DIR,
    moduleLuaDir(),
    path.join(process.cwd(), "lib", "billing", "lua"),
  ];
  for (const c of candidates) {
    if (c && fs.existsSync(path.join(c, "quota-increment.lua"))) return (dir = c);
  }
  throw new Error(
    `lib/billing/lua not found (looked in ${candidates.filter(Boolean).join(", ")}); set QC_BILLING_LUA_DIR`,
  );
}

function moduleLuaDir(): string | undefined {
  try {
    return path.join(path.dirname(fileURLToPath(import.meta.url)), "lua");
  } catch {
    return undefined;
  }
}
