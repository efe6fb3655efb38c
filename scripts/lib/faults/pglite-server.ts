import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { exited, reapOnExit, signal, tail } from "./process-util";

export interface PgliteServerOptions {
  /** PGlite data folder (default: in memory, gone with the process). */
  dataDir?: string;
  /** Apply prisma/migrations (scripts/migrate.mjs) inside the child before serving. */
  migrate?: boolean;
  /** Port to serve on (default: a free one chosen by the child). */
  port?: number;
  /** the server's connection limit (default 32). */
  maxConnections?: number;
  /**
   * Where a fresh in-memory start keeps PGlite's initdb result (see pglite-child.mjs). Default
   * $QC_FAULTS_CACHE_DIR or node_modules/.cache/qc-faults; false: always run initdb (~5 s).
   */
  cacheDir?: string | false;
  /** Give up waiting for the ready line after this long (default 60 s). */
  timeoutMs?: number;
}

const here = path.dirname(fileURLToPath(import.meta.url));
const childEntry = path.join(here, "pglite-child.mjs");
const defaultCacheDir = () =>
  process.env.QC_FAULTS_CACHE_DIR || path.resolve(here, "../../../node_modules/.cache/qc-faults");

/**
 * An embedded PostgreSQL (PGlite) served over TCP (scripts/lib/pglite-server.mjs) in a CHILD process, so it can
 * be killed (SIGKILL) and hung (SIGSTOP) like a real server. Speaks the wire protocol to pg.
 * A fresh in-memory PGlite runs initdb in WebAssembly first (~5 s); its result is cached on disk
 * (cacheDir), so later in-memory starts take ~1 s plus the migrations (~1 s).
 */
export class PgliteServer {
  private paused = false;

  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    private readonly log: ReturnType<typeof tail>,
    private unreap: (() => void) | null,
  ) {}

  static async start(o: PgliteServerOptions = {}): Promise<PgliteServer> {
    const args = JSON.stringify({
      dataDir: o.dataDir ? path.resolve(o.dataDir) : undefined,
      migrate: !!o.migrate,
      port: o.port,
      maxConnections: o.maxConnections ?? 32,
      cacheDir: o.cacheDir === false ? null : path.resolve(o.cacheDir ?? defaultCacheDir()),
    });
    const child = spawn(process.execPath, [childEntry, args], { stdio: ["pipe", "pipe", "pipe"] });
    const log = tail();
    child.stderr!.on("data", log.push);
    const pid = child.pid;
    const unreap = pid ? reapOnExit(() => signal(pid, "SIGKILL")) : () => {};
    try {
      const port = await new Promise<number>((resolve, reject) => {
        let out = "";
        const timer = setTimeout(
          () => reject(new Error(`PGlite server not ready within ${o.timeoutMs ?? 60_000} ms`)),
          o.timeoutMs ?? 60_000,
        );
        const fail = (why: string) => {
          clearTimeout(timer);
          reject(new Error(`PGlite server failed to start (${why}): ${log.text()}`));
        };
        child.on("error", (e) => fail(String(e)));
        child.on("exit", (code, sig) => fail(`exit ${code ?? sig}`));
        child.stdout!.on("data", (d: Buffer) => {
          out += d.toString();
          const m = /^PGLITE_READY (.*)$/m.exec(out);
          if (!m) return;
          clearTimeout(timer);
          resolve((JSON.parse(m[1]) as { port: number }).port);
        });
      });
      child.stdout!.removeAllListeners("data");
      child.stdout!.resume();
      return new PgliteServer(child, port, log, unreap);
    } catch (e) {
      signal(child.pid ?? 0, "SIGKILL");
      await exited(child);
      unreap();
      throw e;
    }
  }

  url(db = "postgres"): string {
    return `postgresql://postgres:postgres@127.0.0.1:${this.port}/${db}?sslmode=disable`;
  }

  get pid(): number {
    return this.child.pid!;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The child's stderr so far (migration output, errors). */
  output(): string {
    return this.log.text();
  }

  pause(): void {
    if (!this.running) throw new Error("PGlite server is not running");
    signal(this.pid, "SIGSTOP");
    this.paused = true;
  }

  resume(): void {
    if (this.running) signal(this.pid, "SIGCONT");
    this.paused = false;
  }

  /** SIGKILL (a crash), waits for the exit. */
  async kill(): Promise<void> {
    await this.terminate("SIGKILL");
  }

  /** SIGTERM (the child closes the socket server and PGlite), waits; SIGKILL after 5 s. */
  async stop(): Promise<void> {
    await this.terminate("SIGTERM");
  }

  private async terminate(sig: "SIGTERM" | "SIGKILL"): Promise<void> {
    if (this.running) {
      const done = exited(this.child);
      signal(this.pid, sig);
      if (this.paused) signal(this.pid, "SIGCONT");
      const timer = setTimeout(() => signal(this.pid, "SIGKILL"), 5000);
      await done;
      clearTimeout(timer);
    }
    this.paused = false;
    this.unreap?.();
    this.unreap = null;
  }
}
