import net from "node:net";

/**
 * A TCP proxy on 127.0.0.1 that turns a healthy server into a faulty one, switchable at any time:
 *
 *   pass()      forward normally (and deliver, in order, whatever a pause buffered)
 *   pause()     a hung server: new connections are accepted, nothing moves in either direction,
 *               existing connections stay open, bytes (and FINs) are buffered in the proxy
 *   blackhole() the same as pause()
 *   refuse()    the listening socket is closed, so new connections get ECONNREFUSED; existing
 *               connections keep forwarding. pass()/pause() listen again on the SAME port
 *   cut()       every current connection is reset on both sides (RST); the mode is unchanged
 *
 * A pause is NOT a drop: what a client sent during the pause reaches the server when the pause
 * ends, even if that client has given up and closed its socket meanwhile — its bytes are
 * delivered, then its FIN. A statement "lost" in a hang therefore executes late. That is what a
 * real network partition or a hung server does too (the kernel buffers hold the bytes), and it is
 * why billing writes must be exactly-once (idempotent commit keys), never "retry on timeout".
 *
 * Half-closes are forwarded (allowHalfOpen on both legs); socket errors never escape.
 */
export type ProxyMode = "pass" | "pause" | "refuse";

export interface ProxyStats {
  mode: ProxyMode;
  port: number;
  /** Connections currently open (client side accepted and not yet fully closed). */
  connections: number;
  /** Connections accepted since start. */
  accepted: number;
  /** Bytes forwarded client → target and target → client. */
  bytesUp: number;
  bytesDown: number;
  /** Bytes received but not yet forwarded (held by a pause or by backpressure). */
  bufferedUp: number;
  bufferedDown: number;
}

export interface TcpProxyOptions {
  targetHost: string;
  targetPort: number;
  /** Port to listen on (default: a free one). */
  port?: number;
}

const END = Symbol("end");
type Item = Buffer | typeof END;
/** Above this many buffered bytes a direction stops reading; the sender's kernel buffers fill up. */
const HIGH_WATER = 4 * 1024 * 1024;

/** RST when the socket is connected, a plain destroy otherwise (never throws). */
function reset(s: net.Socket | null): void {
  if (!s || s.destroyed) return;
  try {
    if (!s.connecting && typeof s.resetAndDestroy === "function") {
      s.resetAndDestroy();
      return;
    }
  } catch {
    // not a TCP handle: fall through
  }
  s.destroy();
}

class Direction {
  queue: Item[] = [];
  buffered = 0;
  sourceEnded = false;
  private draining = false;
  private heldSource = false;

  constructor(
    private readonly proxy: TcpProxy,
    private readonly from: () => net.Socket | null,
    private readonly to: () => net.Socket | null,
    readonly name: "up" | "down",
  ) {}

  push(chunk: Buffer): void {
    this.queue.push(chunk);
    this.buffered += chunk.length;
    this.proxy.noteBuffered(this.name, chunk.length);
    if (this.buffered > HIGH_WATER && !this.heldSource) {
      this.heldSource = true;
      this.from()?.pause();
    }
    this.flush();
  }

  end(): void {
    if (this.sourceEnded) return;
    this.sourceEnded = true;
    this.queue.push(END);
    this.flush();
  }

  /** The source vanished without a FIN (error, RST, our own cut). */
  abort(): void {
    if (this.sourceEnded) return;
    this.sourceEnded = true;
    if (this.proxy.forwarding && this.queue.length === 0) {
      reset(this.to()); // propagate the reset
    } else {
      this.queue.push(END); // buffered bytes still go out first, then a FIN
      this.flush();
    }
  }

  flush(): void {
    if (!this.proxy.forwarding || this.draining) return;
    const to = this.to();
    if (!to || to.connecting) return; // flushed again on connect
    if (to.destroyed || !to.writable) {
      this.drop();
      return;
    }
    while (this.queue.length) {
      const item = this.queue.shift()!;
      if (item === END) {
        to.end();
        continue;
      }
      this.buffered -= item.length;
      this.proxy.noteForwarded(this.name, item.length);
      if (!to.write(item)) {
        this.draining = true;
        to.once("drain", () => {
          this.draining = false;
          this.flush();
        });
        break;
      }
    }
    if (this.heldSource && this.buffered < HIGH_WATER / 2) {
      this.heldSource = false;
      this.from()?.resume();
    }
  }

  /** The destination is gone: discard what was meant for it (and keep draining the source). */
  drop(): void {
    this.proxy.noteBuffered(this.name, -this.buffered);
    this.queue = [];
    this.buffered = 0;
    if (this.heldSource) {
      this.heldSource = false;
      this.from()?.resume();
    }
  }
}

class Connection {
  upstream: net.Socket | null = null;
  readonly up: Direction;
  readonly down: Direction;
  private clientClosed = false;
  private upstreamClosed = false;

  constructor(
    private readonly proxy: TcpProxy,
    readonly client: net.Socket,
  ) {
    this.up = new Direction(
      proxy,
      () => this.client,
      () => this.upstream,
      "up",
    );
    this.down = new Direction(
      proxy,
      () => this.upstream,
      () => this.client,
      "down",
    );
    client.setNoDelay(true);
    client.on("error", () => {});
    client.on("data", (d: Buffer) => this.up.push(d));
    client.on("end", () => this.up.end());
    client.on("close", () => {
      this.clientClosed = true;
      this.up.abort(); // no-op after a clean end
      this.down.drop();
      // Accepted during a pause and never connected upstream: if it left bytes behind, they are
      // still delivered when the pause ends (a hung server reads its backlog late, too).
      if (!this.upstream && this.up.queue.length === 0) this.upstreamClosed = true;
      this.maybeDone();
    });
  }

  connectUpstream(): void {
    if (this.upstream || this.upstreamClosed) return;
    const s = net.connect({ host: this.proxy.targetHost, port: this.proxy.targetPort, allowHalfOpen: true });
    this.upstream = s;
    s.setNoDelay(true);
    s.on("error", () => {});
    s.on("connect", () => {
      this.up.flush();
      this.down.flush();
    });
    s.on("data", (d: Buffer) => this.down.push(d));
    s.on("end", () => this.down.end());
    s.on("close", () => {
      this.upstreamClosed = true;
      this.down.abort();
      this.up.drop();
      this.maybeDone();
    });
  }

  flush(): void {
    this.connectUpstream();
    this.up.flush();
    this.down.flush();
  }

  cut(): void {
    if (!this.upstream) this.upstreamClosed = true;
    this.up.drop();
    this.down.drop();
    this.up.sourceEnded = this.down.sourceEnded = true; // nothing more to deliver
    reset(this.client);
    reset(this.upstream);
  }

  private maybeDone(): void {
    if (this.clientClosed && this.upstreamClosed) this.proxy.forget(this);
  }
}

export class TcpProxy {
  private server: net.Server | null = null;
  private mode_: ProxyMode = "pass";
  private closed = false;
  private readonly conns = new Set<Connection>();
  private counters = { accepted: 0, bytesUp: 0, bytesDown: 0, bufferedUp: 0, bufferedDown: 0 };

  private constructor(
    readonly targetHost: string,
    readonly targetPort: number,
    private port_: number,
  ) {}

  static async start(o: TcpProxyOptions): Promise<TcpProxy> {
    const p = new TcpProxy(o.targetHost, o.targetPort, o.port ?? 0);
    await p.listen();
    return p;
  }

  get port(): number {
    return this.port_;
  }

  get host(): string {
    return "127.0.0.1";
  }

  get mode(): ProxyMode {
    return this.mode_;
  }

  /** @internal whether bytes move (every mode but pause) */
  get forwarding(): boolean {
    return this.mode_ !== "pause";
  }

  async pass(): Promise<void> {
    this.mode_ = "pass";
    await this.listen();
    for (const c of this.conns) c.flush();
  }

  async pause(): Promise<void> {
    this.mode_ = "pause";
    await this.listen();
  }

  /** Alias of pause(): connections are accepted and then nothing happens. */
  blackhole(): Promise<void> {
    return this.pause();
  }

  async refuse(): Promise<void> {
    this.mode_ = "refuse";
    const s = this.server;
    this.server = null;
    // Stops listening at once (the callback would wait for s's connections, which stay open).
    s?.close();
    for (const c of this.conns) c.flush(); // a pause before refuse() ends: existing ones forward
  }

  /** Resets every current connection on both sides; new connections get the current mode. */
  cut(): void {
    for (const c of [...this.conns]) c.cut();
  }

  stats(): ProxyStats {
    return { mode: this.mode_, port: this.port_, connections: this.conns.size, ...this.counters };
  }

  async close(): Promise<void> {
    this.closed = true;
    const s = this.server;
    this.server = null;
    for (const c of [...this.conns]) {
      c.client.destroy();
      c.upstream?.destroy();
    }
    this.conns.clear();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }

  /** @internal */
  forget(c: Connection): void {
    this.conns.delete(c);
  }

  /** @internal */
  noteBuffered(dir: "up" | "down", n: number): void {
    if (dir === "up") this.counters.bufferedUp += n;
    else this.counters.bufferedDown += n;
  }

  /** @internal */
  noteForwarded(dir: "up" | "down", n: number): void {
    this.noteBuffered(dir, -n);
    if (dir === "up") this.counters.bytesUp += n;
    else this.counters.bytesDown += n;
  }

  private onConnection(client: net.Socket): void {
    if (this.closed) {
      client.destroy();
      return;
    }
    this.counters.accepted++;
    const c = new Connection(this, client);
    this.conns.add(c);
    // A hung server has not even seen the connection: the upstream leg opens when the pause ends.
    if (this.forwarding) c.connectUpstream();
  }

  private async listen(): Promise<void> {
    if (this.closed) throw new Error("TcpProxy is closed");
    if (this.server) return;
    let lastError: unknown;
    for (let attempt = 0; attempt < 20; attempt++) {
      const server = net.createServer({ allowHalfOpen: true }, (s) => this.onConnection(s));
      try {
        await new Promise<void>((resolve, reject) => {
          server.once("error", reject);
          server.listen(this.port_, "127.0.0.1", () => {
            server.off("error", reject);
            resolve();
          });
        });
      } catch (e) {
        lastError = e;
        if ((e as NodeJS.ErrnoException).code !== "EADDRINUSE" || this.port_ === 0) throw e;
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      server.on("error", () => {});
      this.port_ = (server.address() as net.AddressInfo).port;
      this.server = server;
      return;
    }
    throw lastError;
  }
}

/** A TCP server that accepts connections and never answers: a database that hangs. */
export async function blackholeServer(onConnection?: () => void): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on("error", () => {});
    s.on("close", () => sockets.delete(s));
    onConnection?.();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
