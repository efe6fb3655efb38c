import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import fs from "node:fs";

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** True when `pid` names a live process (a zombie counts as gone). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return true; // no /proc: trust kill(0)
  }
}

/** Sends `signal` and ignores "no such process". */
export function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ESRCH") throw e;
  }
}

/** Direct children of `pid`: /proc/<pid>/task/<tid>/children, else `pgrep -P`. */
export function childPids(pid: number): number[] {
  const parse = (s: string) => s.split(/\s+/).filter(Boolean).map(Number);
  try {
    return fs
      .readdirSync(`/proc/${pid}/task`)
      .flatMap((tid) => parse(fs.readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8")));
  } catch {
    try {
      return parse(
        execFileSync("pgrep", ["-P", String(pid)], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }),
      );
    } catch {
      return []; // pgrep exits 1 when there are none
    }
  }
}

/** `pid` and all its descendants, parents before children. */
export function processTree(pid: number): number[] {
  const out: number[] = [];
  const queue = [pid];
  while (queue.length) {
    const p = queue.shift()!;
    if (out.includes(p)) continue;
    out.push(p);
    queue.push(...childPids(p));
  }
  return out;
}

/** Polls until every pid is gone, or throws after `timeoutMs`. */
export async function waitGone(pids: number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some(alive)) {
    if (Date.now() > deadline)
      throw new Error(`processes ${pids.filter(alive).join(", ")} did not exit within ${timeoutMs} ms`);
    await sleep(10);
  }
}

/** Resolves when the child has exited (immediately if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once("exit", () => r()));
}

/** Keeps the last `max` characters a stream produced, for error messages. */
export function tail(max = 4000): { push(chunk: Buffer | string): void; text(): string } {
  let buf = "";
  return {
    push(chunk) {
      buf = (buf + chunk.toString()).slice(-max);
    },
    text: () => buf.trim(),
  };
}

/** Runs a command to completion and returns its exit code and combined output. */
export function runCommand(
  cmd: string,
  args: string[],
  opts: SpawnOptions = {},
): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const out = tail(8000);
    const child = spawn(cmd, args, { ...opts, stdio: ["ignore", "pipe", "pipe"] });
    child.stdout?.on("data", out.push);
    child.stderr?.on("data", out.push);
    child.on("error", (e) => {
      out.push(String(e));
      resolve({ code: 127, output: out.text() });
    });
    child.on("close", (code, sig) => resolve({ code: code ?? (sig ? 128 : 0), output: out.text() }));
  });
}

// Processes this module started are killed when the host process exits without cleaning up
// (a test that threw before afterAll, a script that called process.exit): no orphans.
const reapers = new Set<() => void>();
let hooked = false;

/** Registers a synchronous last-resort killer; returns a function that unregisters it. */
export function reapOnExit(kill: () => void): () => void {
  if (!hooked) {
    hooked = true;
    process.once("exit", () => {
      for (const k of reapers) {
        try {
          k();
        } catch {
          // best effort
        }
      }
    });
  }
  reapers.add(kill);
  return () => reapers.delete(kill);
}
