// A PostgreSQL wire-protocol server in front of one embedded PGlite instance (the demo's database and
// the chaos suite's PGlite runs), safe for many connections.
//
// PGlite is a single session. @electric-sql/pglite-socket hands it one protocol message at a time from
// whichever connection is next, so the messages of two clients interleave: one client's Parse replaces
// the unnamed statement another client is about to Bind, and a query can silently answer with another
// query's result (seen here as a check that found "no row" for a row that exists). This server keeps
// a connection's messages together instead:
//   * a "cycle" is everything up to a Sync (extended protocol), a simple Query, or a Flush; cycles
//     run one at a time, each in a single execProtocolRaw call;
//   * a transaction pins the session: after a cycle that leaves it in a transaction (ReadyForQuery
//     'T' or 'E'), only that connection's cycles run until it is idle again; a connection that goes
//     away mid-transaction is rolled back.
// Named prepared statements and session settings are still shared by all connections (one session):
// clients must not rely on them — lib/billing uses neither.
import net from "node:net";

const SSL_REQUEST = 80877103;
const CANCEL_REQUEST = 80877102;
const PROTOCOL_3 = 196608;

/** Serve `db` (a PGlite instance) on host:port (0 = any free port). Returns { port, close() }. */
export async function servePglite(db, { host = "127.0.0.1", port = 0, maxConnections = 64 } = {}) {
  await db.waitReady;
  const queue = []; // { conn, bytes, resolve }
  let pinned = null; // the connection whose transaction holds the session
  let running = false;
  const conns = new Set();

  const lastStatus = (out) => {
    // ReadyForQuery: 'Z' int32(5) status — the last one in the output decides.
    for (let i = out.length - 6; i >= 0; i--) {
      if (out[i] === 0x5a && out[i + 1] === 0 && out[i + 2] === 0 && out[i + 3] === 0 && out[i + 4] === 5)
        return String.fromCharCode(out[i + 5]);
    }
    return null;
  };

  async function pump() {
    if (running) return;
    running = true;
    try {
      for (;;) {
        const idx = pinned ? queue.findIndex((c) => c.conn === pinned) : 0;
        if (idx < 0 || queue.length === 0) break;
        const [cycle] = queue.splice(idx, 1);
        if (cycle.conn.closed) {
          cycle.resolve();
          continue;
        }
        let out;
        try {
          out = await db.execProtocolRaw(cycle.bytes);
        } catch (e) {
          out = errorResponse(String(e?.message ?? e));
        }
        const status = lastStatus(out);
        if (status === "T" || status === "E") pinned = cycle.conn;
        else if (status === "I" && pinned === cycle.conn) pinned = null;
        if (!cycle.conn.closed && out.length) cycle.conn.socket.write(out);
        cycle.resolve();
        if (pinned === cycle.conn && cycle.conn.closed) {
          // The client left while this cycle ran: its transaction can never finish.
          pinned = null;
          await db.execProtocolRaw(simpleQuery("ROLLBACK")).catch(() => {});
        }
      }
    } finally {
      running = false;
    }
  }

  async function rollbackIfPinned(conn) {
    if (pinned !== conn) return;
    await new Promise((resolve) => {
      queue.unshift({ conn: { closed: false, socket: { write() {} } }, bytes: simpleQuery("ROLLBACK"), resolve });
      pinned = null;
      void pump();
    });
  }

  const server = net.createServer((socket) => {
    if (conns.size >= maxConnections) {
      socket.end(errorResponse("too many connections"));
      return;
    }
    const conn = { socket, closed: false, buf: Buffer.alloc(0), pending: [], started: false };
    conns.add(conn);
    socket.setNoDelay(true);
    const enqueue = (parts) => {
      const bytes = new Uint8Array(Buffer.concat(parts));
      return new Promise((resolve) => {
        queue.push({ conn, bytes, resolve });
        void pump();
      });
    };
    socket.on("data", (chunk) => {
      conn.buf = conn.buf.length ? Buffer.concat([conn.buf, chunk]) : chunk;
      for (;;) {
        if (!conn.started) {
          if (conn.buf.length < 8) break;
          const len = conn.buf.readInt32BE(0);
          if (conn.buf.length < len) break;
          const code = conn.buf.readInt32BE(4);
          const msg = conn.buf.subarray(0, len);
          conn.buf = conn.buf.subarray(len);
          if (code === SSL_REQUEST) {
            socket.write("N");
            continue;
          }
          if (code === CANCEL_REQUEST) {
            socket.end();
            break;
          }
          if (code !== PROTOCOL_3) {
            socket.end(errorResponse("unsupported protocol"));
            break;
          }
          conn.started = true;
          void enqueue([msg]);
          continue;
        }
        if (conn.buf.length < 5) break;
        const len = conn.buf.readInt32BE(1);
        if (conn.buf.length < len + 1) break;
        const type = String.fromCharCode(conn.buf[0]);
        const msg = conn.buf.subarray(0, len + 1);
        conn.buf = conn.buf.subarray(len + 1);
        if (type === "X") {
          socket.end();
          break;
        }
        conn.pending.push(Buffer.from(msg));
        if (type === "S" || type === "Q" || type === "H") {
          const parts = conn.pending;
          conn.pending = [];
          void enqueue(parts);
        }
      }
    });
    const gone = () => {
      if (conn.closed) return;
      conn.closed = true;
      conns.delete(conn);
      void rollbackIfPinned(conn);
    };
    socket.on("close", gone);
    socket.on("error", gone);
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  });
  return {
    port: server.address().port,
    host,
    async close() {
      for (const c of conns) c.socket.destroy();
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function simpleQuery(sql) {
  const body = Buffer.from(`${sql}\0`, "utf8");
  const head = Buffer.alloc(5);
  head.write("Q", 0);
  head.writeInt32BE(body.length + 4, 1);
  return new Uint8Array(Buffer.concat([head, body]));
}

function errorResponse(message) {
  const fields = Buffer.concat([
    Buffer.from("SERROR\0", "utf8"),
    Buffer.from("C08006\0", "utf8"),
    Buffer.from(`M${message}\0`, "utf8"),
    Buffer.from([0]),
  ]);
  const head = Buffer.alloc(5);
  head.write("E", 0);
  head.writeInt32BE(fields.length + 4, 1);
  return new Uint8Array(Buffer.concat([head, fields]));
}
