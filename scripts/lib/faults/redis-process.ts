import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

import { freePort } from "../net";
import { exited, reapOnExit, signal, sleep, tail } from "./process-util";

export interface RedisProcessOptions {
  /** Append-only file on (default false: a diskless server, everything is lost on kill). */
  appendonly?: boolean;
  /** AOF fsync policy (default everysec, redis' own default). */
  appendfsync?: "always" | "everysec" | "no";
  /** Data directory. Default: a fresh temp dir that cleanup() removes; a given dir is left alone. */
  dir?: string;
  /** Extra redis-server arguments, e.g. ["--maxmemory", "10mb"]. */
  args?: string[];
  /** Default "redis-server" (from PATH). */
  binary?: string;
}

/**
 * A private redis-server on a free 127.0.0.1 port with its own data directory. kill() is a
 * crash (SIGKILL), pause() a hung server (SIGSTOP: connections stay open, nothing is answered),
 * restart() brings it back on the same port and dir, reloading the AOF when there is one.
 *
 * Note: with appendonly on, every acknowledged write is already in the AOF's page cache, so it
 * survives SIGKILL whatever appendfsync says; fsync policies only differ on an OS crash / power
 * loss, which a process kill cannot simulate.
 */
export class RedisProcess {
  private child: ChildProcess | null = null;
  private paused = false;
  private unreap: (() => void) | null = null;
  private readonly log = tail();

  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly ownsDir: boolean,
    private readonly o: RedisProcessOptions,
  ) {}

  static async start(o: RedisProcessOptions = {}): Promise<RedisProcess> {
    const dir = o.dir ? path.resolve(o.dir) : fs.mkdtempSync(path.join(os.tmpdir(), "qc-faults-redis-"));
    const r = new RedisProcess(await freePort(), dir, !o.dir, o);
    try {
      await r.spawn();
    } catch (e) {
      await r.cleanup();
      throw e;
    }
    return r;
  }

  url(db = 0): string {
    return `redis://127.0.0.1:${this.port}/${db}`;
  }

  get pid(): number | null {
    return this.running ? this.child!.pid! : null;
  }

  get running(): boolean {
    return this.child !== null && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGSTOP: the server hangs; TCP connections are still accepted by the kernel. */
  pause(): void {
    if (!this.running) throw new Error("redis-server is not running");
    signal(this.child!.pid!, "SIGSTOP");
    this.paused = true;
  }

  /** SIGCONT: everything sent during the pause is answered now. */
  resume(): void {
    if (this.running) signal(this.child!.pid!, "SIGCONT");
    this.paused = false;
  }

  /** SIGKILL (a crash), waits for the exit. No-op when not running. */
  async kill(): Promise<void> {
    await this.terminate("SIGKILL");
  }

  /** SIGTERM (a clean shutdown: AOF flushed), waits for the exit; SIGKILL after 5 s. */
  async stop(): Promise<void> {
    await this.terminate("SIGTERM");
  }

  /**
   * Starts the server again on the same port and dir (stopping it first if it still runs) and
   * waits until it answers PING and has finished loading the AOF.
   */
  async restart(): Promise<void> {
    if (this.running) await this.stop();
    await this.spawn();
  }

  /** Stops the server and removes the temp dir this instance created. */
  async cleanup(): Promise<void> {
    await this.kill();
    if (this.ownsDir) fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private async terminate(sig: "SIGTERM" | "SIGKILL"): Promise<void> {
    const c = this.child;
    if (!c || !this.running) return;
    const done = exited(c);
    signal(c.pid!, sig);
    if (this.paused) signal(c.pid!, "SIGCONT"); // a stopped process only acts on SIGKILL
    this.paused = false;
    if (sig === "SIGTERM") {
      const timer = setTimeout(() => signal(c.pid!, "SIGKILL"), 5000);
      await done;
      clearTimeout(timer);
    } else await done;
    this.unreap?.();
    this.unreap = null;
  }

  private async spawn(): Promise<void> {
    fs.mkdirSync(this.dir, { recursive: true });
    const args = [
      "--port",
      String(this.port),
      "--bind",
      "127.0.0.1",
      "--dir",
      this.dir,
      "--save",
      "",
      "--appendonly",
      this.o.appendonly ? "yes" : "no",
      "--appendfsync",
      this.o.appendfsync ?? "everysec",
      "--daemonize",
      "no",
      "--logfile",
      "",
      ...(this.o.args ?? []),
    ];
    const child = spawn(this.o.binary ?? "redis-server", args, { stdio: ["ignore", "pipe", "pipe"], cwd: this.dir });
    this.child = child;
    this.paused = false;
    child.stdout!.on("data", this.log.push);
    child.stderr!.on("data", this.log.push);
    let spawnError: Error | null = null;
    child.on("error", (e) => (spawnError = e));
    const pid = child.pid;
    this.unreap?.();
    const { dir, ownsDir } = this;
    this.unreap = pid
      ? reapOnExit(() => {
          signal(pid, "SIGKILL");
          if (ownsDir) fs.rmSync(dir, { recursive: true, force: true });
        })
      : null;
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (spawnError) throw new Error(`could not run redis-server: ${spawnError}`);
      if (!this.running) throw new Error(`redis-server on port ${this.port} exited at start: ${this.log.text()}`);
      const pong = await redisCommand(this.port, ["PING"], 500).catch(() => null);
      if (pong === "PONG") {
        const info = await redisCommand(this.port, ["INFO", "persistence"], 500).catch(() => "");
        if (/^loading:0\r?$/m.test(info)) return;
      }
      if (Date.now() > deadline) {
        await this.kill();
        throw new Error(`redis-server on port ${this.port} not ready within 15 s: ${this.log.text()}`);
      }
      await sleep(15);
    }
  }
}

/**
 * One command over a fresh connection, minimal RESP (simple, error, integer, bulk replies).
 * Rejects on an error reply (e.g. -LOADING), a closed connection or the timeout.
 */
export function redisCommand(port: number, args: string[], timeoutMs = 1000): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    const s = net.connect(port, "127.0.0.1");
    const finish = (err: Error | null, value?: string) => {
      clearTimeout(timer);
      s.destroy();
      if (err) reject(err);
      else resolve(value!);
    };
    const timer = setTimeout(() => finish(new Error(`redis command ${args[0]} timed out`)), timeoutMs);
    s.on("error", (e) => finish(e));
    s.on("close", () => finish(new Error("connection closed")));
    s.on("connect", () => {
      s.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`);
    });
    s.on("data", (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const nl = buf.indexOf("\r\n");
      if (nl < 0) return;
      const head = buf.subarray(0, nl).toString();
      const kind = head[0];
      if (kind === "+" || kind === ":") return finish(null, head.slice(1));
      if (kind === "-") return finish(new Error(head.slice(1)));
      if (kind === "$") {
        const n = Number(head.slice(1));
        if (n < 0) return finish(null, "");
        if (buf.length >= nl + 2 + n + 2) finish(null, buf.subarray(nl + 2, nl + 2 + n).toString());
        return;
      }
      finish(new Error(`unsupported RESP reply ${JSON.stringify(head)}`));
    });
  });
}

/**
 * The older test helper (tests/support/redis-server.ts): a diskless private redis whose down()
 * kills it and up() brings it back empty on the same port.
 */
export class PrivateRedis {
  private constructor(private readonly proc: RedisProcess) {}

  static async start(): Promise<PrivateRedis> {
    return new PrivateRedis(await RedisProcess.start({ appendonly: false }));
  }

  get port(): number {
    return this.proc.port;
  }

  get url(): string {
    return this.proc.url(0);
  }

  async up(): Promise<void> {
    await this.proc.restart();
  }

  /** SIGKILL; also removes the (empty) temp dir, which up() recreates. */
  async down(): Promise<void> {
    await this.proc.cleanup();
  }
}
