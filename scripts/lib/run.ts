import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

/** Runs a command with this terminal (stdio inherited) and resolves with its exit code (1 after a signal). */
export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: "inherit", env });
    child.on("error", () => resolve(127));
    child.on("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

/** True when `cmd` is a file in one of the PATH directories. */
export function onPath(cmd: string): boolean {
  return (process.env.PATH ?? "").split(path.delimiter).some((d) => d && fs.existsSync(path.join(d, cmd)));
}
