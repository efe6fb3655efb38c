import { createHash } from "node:crypto";
import type Redis from "ioredis";

/**
 * A Lua script run as go-redis' Script.Run does: EVALSHA, and EVAL when the server answers
 * NOSCRIPT (after a restart or SCRIPT FLUSH). The SHA is computed once.
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
