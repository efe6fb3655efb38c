import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { PgliteServer, PostgresCluster, RedisProcess, TcpProxy } from "../faults";
import { exited, reapOnExit, signal } from "../faults/process-util";
import { migrateDatabase as migrate } from "../throwaway-services";

/**
 * The chaos suite's own services — never the machine's PostgreSQL (5432) or Redis (6379): a private
 * PostgreSQL cluster with a TCP proxy in front (migrated through the proxy), a private redis-server with
 * AOF (appendfsync always, so SIGKILL + restart keeps every acknowledged write), and — only when a
 * PGlite run is asked for — a PGlite server in a child process with its own proxy. stop() tears down
 * whatever was started, in reverse order; it is idempotent and is also run on SIGINT/SIGTERM.
 */
export type ChaosDb = "postgres" | "pglite";

export type DbService = {
  db: ChaosDb;
  proxy: TcpProxy;
  /** the URL through the proxy (what every runtime uses) */
  url: string;
  /** SIGSTOP / SIGCONT of the server process(es) */
  pause(): void;
  resume(): void;
  /** crash + recovery (PostgreSQL only) */
  restart?: () => Promise<void>;
};

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

export class ChaosServices {
  redis!: RedisProcess;
  readonly dbs = new Map<ChaosDb, DbService>();
  private readonly stops: Array<() => Promise<unknown>> = [];
  private stopping: Promise<void> | null = null;

  static async start(dbs: ChaosDb[], log: (m: string) => void): Promise<ChaosServices> {
    const s = new ChaosServices();
    try {
      s.redis = await RedisProcess.start({ appendonly: true, appendfsync: "always" });
      s.stops.push(() => s.redis.cleanup());
      log(`redis-server (AOF, appendfsync always) on 127.0.0.1:${s.redis.port}`);
      for (const db of dbs) {
        const svc = db === "postgres" ? await s.startPostgres() : await s.startPglite();
        s.dbs.set(db, svc);
        log(`${db} on 127.0.0.1:${svc.proxy.port} (proxy)`);
      }
    } catch (e) {
      await s.stop();
      throw e;
    }
    return s;
  }

  private async startPostgres(): Promise<DbService> {
    const cluster = await PostgresCluster.start({ settings: { max_connections: 200 } });
    this.stops.push(() => cluster.cleanup());
    const proxy = await TcpProxy.start({ targetHost: "127.0.0.1", targetPort: cluster.port });
    this.stops.push(() => proxy.close());
    const direct = await cluster.createDatabase("qc_chaos");
    const url = new URL(direct);
    url.port = String(proxy.port);
    await migrate(url.toString());
    return {
      db: "postgres",
      proxy,
      url: url.toString(),
      pause: () => cluster.pause(),
      resume: () => cluster.resume(),
      restart: () => cluster.restart({ mode: "immediate" }),
    };
  }

  private async startPglite(): Promise<DbService> {
    const server = await PgliteServer.start({ migrate: true });
    this.stops.push(() => server.kill());
    const proxy = await TcpProxy.start({ targetHost: "127.0.0.1", targetPort: server.port });
    this.stops.push(() => proxy.close());
    const url = new URL(server.url());
    url.port = String(proxy.port);
    return { db: "pglite", proxy, url: url.toString(), pause: () => server.pause(), resume: () => server.resume() };
  }

  /** Register something to stop with the services (a flusher child, a runtime). */
  onStop(fn: () => Promise<unknown>): void {
    this.stops.push(fn);
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const stop of this.stops.reverse()) {
        try {
          await stop();
        } catch (e) {
          console.error("chaos: cleanup step failed:", e);
        }
      }
      this.stops.length = 0;
    })();
    return this.stopping;
  }
}

/**
 * The real flusher worker (scripts/flusher.ts) as a child process, so it can be SIGKILLed mid-flush.
 * stop() is SIGTERM (its final flush), kill() SIGKILL; both wait for the exit.
 */
export class FlusherProcess {
  private readonly unreap: () => void;
  private output = "";

  private constructor(private readonly child: ChildProcess) {
    const pid = child.pid ?? 0;
    this.unreap = reapOnExit(() => signal(pid, "SIGKILL"));
    child.stdout?.on("data", (d: Buffer) => (this.output = (this.output + d.toString()).slice(-4000)));
    child.stderr?.on("data", (d: Buffer) => (this.output = (this.output + d.toString()).slice(-4000)));
  }

  /** Starts it and waits for its "flusher started" line. */
  static async start(env: { databaseUrl: string; redisUrl: string; intervalMs: number }): Promise<FlusherProcess> {
    // node with tsx's loader (not the tsx CLI, which would put a second process in between): one pid
    // to SIGKILL.
    const child = spawn(process.execPath, ["--import", "tsx", "scripts/flusher.ts"], {
      cwd: root,
      env: {
        ...process.env,
        DATABASE_URL: env.databaseUrl,
        REDIS_URL: env.redisUrl,
        QUOTA_FLUSH_INTERVAL_MS: String(env.intervalMs),
        FLUSHER_STATS_SECONDS: "0",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const f = new FlusherProcess(child);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`flusher child not started within 30 s: ${f.output}`)), 30_000);
      const onData = (d: Buffer) => {
        if (d.toString().includes("flusher started")) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on("data", onData);
      child.on("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`flusher child exited (${code}) at start: ${f.output}`));
      });
    }).catch(async (e) => {
      await f.kill();
      throw e;
    });
    return f;
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGKILL (a crash mid-flush), waits for the exit. */
  async kill(): Promise<void> {
    await this.terminate("SIGKILL");
  }

  /** SIGTERM (stop the schedule, final flush, exit), waits; SIGKILL after 15 s. */
  async stop(): Promise<void> {
    await this.terminate("SIGTERM");
  }

  log(): string {
    return this.output;
  }

  private async terminate(sig: NodeJS.Signals): Promise<void> {
    if (this.running) {
      const done = exited(this.child);
      signal(this.pid, sig);
      const timer = setTimeout(() => signal(this.pid, "SIGKILL"), 15_000);
      await done;
      clearTimeout(timer);
    }
    this.unreap();
  }
}
