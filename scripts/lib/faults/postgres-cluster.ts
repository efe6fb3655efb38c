import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";

import { freePort } from "../net";
import { alive, processTree, reapOnExit, runCommand, signal, waitGone } from "./process-util";

export interface PostgresClusterOptions {
  /** Real fsync (default false: `-c fsync=off`, the data survives a process crash, not an OS crash). */
  fsync?: boolean;
  /** Extra server settings, passed as `-c key=value`. */
  settings?: Record<string, string | number>;
}

/** The newest /usr/lib/postgresql/<v>/bin with initdb, or $PG_BIN, or PATH. */
export function postgresBinDir(): string {
  if (process.env.PG_BIN) return process.env.PG_BIN;
  const base = "/usr/lib/postgresql";
  const v = fs.existsSync(base)
    ? fs
        .readdirSync(base)
        .sort((a, b) => Number(b) - Number(a))
        .find((d) => fs.existsSync(`${base}/${d}/bin/initdb`))
    : undefined;
  return v ? `${base}/${v}/bin` : "";
}

function postgresUser(): { uid: number; gid: number } {
  const line = fs
    .readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.startsWith("postgres:"));
  if (!line) throw new Error("running as root, but there is no postgres system user to own the cluster");
  const [, , uid, gid] = line.split(":");
  return { uid: Number(uid), gid: Number(gid) };
}

/**
 * A throwaway PostgreSQL cluster (initdb, trust auth, user postgres) on a free 127.0.0.1 port,
 * everything in one temp dir (data, log, unix socket). As root the server runs as the `postgres`
 * OS user (runuser). restart({ mode: "immediate" }) is a crash + recovery; pause() a hung server
 * (SIGSTOP to the postmaster and every backend).
 */
export class PostgresCluster {
  private paused: number[] = [];
  private unreap: (() => void) | null = null;

  private constructor(
    readonly port: number,
    readonly dir: string,
    private readonly bin: string,
    private readonly asRoot: boolean,
    private readonly o: PostgresClusterOptions,
  ) {}

  static async start(o: PostgresClusterOptions = {}): Promise<PostgresCluster> {
    const bin = postgresBinDir();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "qc-faults-pg-"));
    if (/[\s'"\\]/.test(dir)) throw new Error(`temp dir ${dir} must not contain spaces or quotes`);
    const asRoot = process.getuid?.() === 0;
    const c = new PostgresCluster(await freePort(), dir, bin, asRoot, o);
    try {
      if (asRoot) {
        const { uid, gid } = postgresUser();
        fs.chownSync(dir, uid, gid);
      }
      const init = await c.run("initdb", [
        "-D",
        c.dataDir,
        "-A",
        "trust",
        "-U",
        "postgres",
        "--no-sync",
        "--no-instructions",
      ]);
      if (init.code !== 0) throw new Error(`initdb failed: ${init.output}`);
      await c.pgCtl("start", ["-l", c.logFile]);
    } catch (e) {
      await c.cleanup().catch(() => {});
      throw e;
    }
    return c;
  }

  get dataDir(): string {
    return path.join(this.dir, "data");
  }

  get logFile(): string {
    return path.join(this.dir, "postgres.log");
  }

  /** The postmaster's pid (from postmaster.pid), or null when no server runs. */
  get pid(): number | null {
    try {
      const pid = Number(fs.readFileSync(path.join(this.dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
      return pid > 0 && alive(pid) ? pid : null;
    } catch {
      return null;
    }
  }

  url(db = "postgres"): string {
    return `postgresql://postgres@127.0.0.1:${this.port}/${encodeURIComponent(db)}`;
  }

  /** CREATE DATABASE; returns its URL. */
  async createDatabase(name: string): Promise<string> {
    const c = new pg.Client({ connectionString: this.url() });
    await c.connect();
    try {
      await c.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
    } finally {
      await c.end();
    }
    return this.url(name);
  }

  /**
   * pg_ctl restart -m <mode> -w on the same port. "immediate" is a crash: backends are killed,
   * open connections error, and the next start runs WAL recovery (committed data survives).
   */
  async restart(o: { mode?: "smart" | "fast" | "immediate" } = {}): Promise<void> {
    this.resume();
    await this.pgCtl("restart", ["-l", this.logFile, "-m", o.mode ?? "fast"]);
  }

  /** SIGSTOP to the postmaster and all its children: connections hang, new ones are not served. */
  pause(): void {
    const pid = this.pid;
    if (!pid) throw new Error("PostgreSQL is not running");
    signal(pid, "SIGSTOP"); // first, so it forks nothing new meanwhile
    const tree = processTree(pid);
    for (const p of tree.slice(1)) signal(p, "SIGSTOP");
    this.paused = tree;
  }

  /** SIGCONT to everything pause() stopped (and to the current tree). */
  resume(): void {
    const pid = this.pid;
    const all = new Set([...this.paused, ...(pid ? processTree(pid) : [])]);
    for (const p of [...all].reverse()) signal(p, "SIGCONT");
    this.paused = [];
  }

  /** pg_ctl stop -m immediate; no-op when not running. */
  async stop(): Promise<void> {
    const pid = this.pid;
    if (!pid) return;
    this.resume();
    const tree = processTree(pid);
    const r = await this.run("pg_ctl", ["-D", this.dataDir, "-m", "immediate", "-w", "stop"]);
    if (r.code !== 0 && this.pid) throw new Error(`pg_ctl stop failed: ${r.output}`);
    await waitGone(tree, 10_000).catch(() => tree.forEach((p) => signal(p, "SIGKILL")));
    this.unreap?.();
    this.unreap = null;
  }

  /** Stops the server and removes the temp dir. */
  async cleanup(): Promise<void> {
    try {
      await this.stop();
    } finally {
      const pid = this.pid;
      if (pid) processTree(pid).forEach((p) => signal(p, "SIGKILL"));
      fs.rmSync(this.dir, { recursive: true, force: true });
    }
  }

  private serverOptions(): string {
    const settings: Record<string, string | number> = {
      listen_addresses: "127.0.0.1",
      max_connections: 100,
      ...(this.o.fsync ? {} : { fsync: "off" }),
      ...this.o.settings,
    };
    // pg_ctl hands -o to /bin/sh: keep values simple.
    const c = Object.entries(settings).map(([k, v]) => `-c ${k}=${String(v).replace(/[^\w.,:/-]/g, "")}`);
    return [`-p ${this.port}`, `-k ${this.dir}`, ...c].join(" ");
  }

  private async pgCtl(cmd: "start" | "restart", extra: string[]): Promise<void> {
    const r = await this.run("pg_ctl", [
      "-D",
      this.dataDir,
      "-w",
      "-t",
      "30",
      "-o",
      this.serverOptions(),
      ...extra,
      cmd,
    ]);
    const pid = this.pid;
    if (r.code !== 0 || !pid) {
      let log = "";
      try {
        log = fs.readFileSync(this.logFile, "utf8").slice(-3000);
      } catch {
        // no log yet
      }
      throw new Error(`pg_ctl ${cmd} failed (port ${this.port}): ${r.output}\n${log}`);
    }
    this.unreap?.();
    const dir = this.dir;
    this.unreap = reapOnExit(() => {
      processTree(pid).forEach((p) => {
        signal(p, "SIGCONT");
        signal(p, "SIGKILL");
      });
      fs.rmSync(dir, { recursive: true, force: true });
    });
  }

  private run(tool: string, args: string[]) {
    const cmd = this.bin ? path.join(this.bin, tool) : tool;
    const [c, a] = this.asRoot ? ["runuser", ["-u", "postgres", "--", cmd, ...args]] : [cmd, args];
    return runCommand(c, a, { cwd: this.dir, env: { ...process.env, LC_ALL: "C.UTF-8" } });
  }
}
