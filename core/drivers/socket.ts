/**
 * `socket` driver: a Unix socket server for a live collector (sf-collector `-u PATH`, or ours).
 *
 * Protocol (sf-processor's, docs/live.md): the collector connects to PATH (AF_UNIX SOCK_SEQPACKET)
 * and sends one Avro binary `sysflow.SysFlow` datum per message, an SFHeader first. With
 * `type: stream` the socket is SOCK_STREAM and every datum follows a 4-byte big-endian length.
 *
 * - One collector at a time: accept, read to EOF or error, close, accept the next; others wait in
 *   the listen backlog, as upstream.
 * - The layout is chosen by each SFHeader's `version` (core/drivers/socket-schemas.ts); before the first
 *   header, v5. Only the received bytes are decoded: a truncated datum, trailing bytes or garbage
 *   make a bad message, which is counted, logged and dropped, never forwarded and never fatal.
 * - Messages longer than `maxsize` (default 1 MiB; upstream drops the connection above 16 KiB) are
 *   consumed, counted and logged, never partially decoded. In stream mode such a length means the
 *   stream cannot be resynchronised, so that connection is closed.
 * - Every header with a known version is forwarded in order; the sysflowreader resets its entity
 *   cache on it. A header with an unknown version is a bad message and changes nothing.
 * - Back-pressure: each read batch becomes one ctx.push(); reading stops until it resolves, so the
 *   kernel buffer fills and the collector's send() blocks. A partial batch is pushed as soon as the
 *   socket has nothing more pending, so latency stays low.
 * - The socket file gets mode 0600 (attribute `mode`) from the start. An existing file is replaced
 *   only if it is a socket nobody listens on; a live socket, a regular file or a directory is an
 *   error (upstream removes whatever is there, recursively). The file is removed at shutdown.
 *
 * SEQPACKET needs native code: Node's `net` cannot accept it. We use our own small N-API addon
 * (native/unixpacket) rather than the npm package node-unix-socket because we need what that package
 * does not give: the true length of an oversize message (MSG_TRUNC) so it is reported instead of
 * silently cut; many messages per JS callback; pausing the libuv poll for back-pressure instead of
 * buffering in user space; a socket file that is never wider than its mode (fchmod before bind);
 * stale-socket probing; and a build from source with node-gyp instead of a prebuilt binary download.
 */
import { statSync, unlinkSync } from 'node:fs';
import { Socket } from 'node:net';
import { InputError, DecodeError } from '../avro/errors.js';
import { Tap } from '../avro/tap.js';
import { SYSFLOW_SCHEMA_VERSION } from '../sysflow/schema.js';
import { SfType, type SFHeader, type SysFlowRecord } from '../sysflow/types.js';
import type { Logger } from '../log.js';
import type { DriverRunContext, DriverFactory } from '../pipeline/types.js';
import { READABLE, unixpacket, type AddonError, type Poller, type UnixPacket } from './socket-native.js';
import { SOCKET_SCHEMA_VERSIONS, socketDecoder } from './socket-schemas.js';
import { checkSocketLocation, lstatOrNull, makeRoomForSocket, socketOptions, CONFIG, type SocketOptions } from './socket-options.js';

export { DEFAULT_MAX_MESSAGE, socketOptions } from './socket-options.js';

/** Problems logged one by one per connection; after that they are only counted. */
const LOGGED_PROBLEMS = 10;

interface Counters {
  messages: number;
  records: number;
  bad: number;
  oversize: number;
}

const countersText = (c: Counters) => `${c.messages} messages, ${c.records} records, ${c.bad} bad, ${c.oversize} oversize`;

/** Decoding and counters of one collector connection. */
class Connection implements Counters {
  messages = 0;
  records = 0;
  bad = 0;
  oversize = 0;
  private problems = 0;
  private readonly tap = new Tap(Buffer.alloc(0));
  private decode = socketDecoder(SYSFLOW_SCHEMA_VERSION)!.decode;
  /** Header version whose layout is in use (null: none seen yet, v5 assumed). */
  private version: number | null = null;

  constructor(
    readonly n: number,
    private readonly log: Logger,
    private readonly maxSize: number,
  ) {}

  private problem(text: string): void {
    this.problems++;
    if (this.problems <= LOGGED_PROBLEMS) this.log.warn(text);
    if (this.problems === LOGGED_PROBLEMS) this.log.warn(`connection #${this.n}: further bad or oversize messages are counted, not logged`);
  }

  /** A message over maxsize (consumed by the reader, never decoded). */
  tooBig(size: number): void {
    const index = ++this.messages;
    this.oversize++;
    this.problem(`connection #${this.n}, message ${index}: oversize message of ${size} bytes (max ${this.maxSize}), dropped`);
  }

  /** Incomplete data at the end of a stream connection. */
  truncatedAtEnd(bytes: number): void {
    const index = ++this.messages;
    this.bad++;
    this.problem(`connection #${this.n}, message ${index}: stream ended inside a message (${bytes} bytes received), dropped`);
  }

  /**
   * The layout for a header's version. A version with no known layout is a bad message: taking it
   * would let one forged or corrupt datum reset the entity cache and switch the connection's layout.
   */
  private layoutFor(version: number, at: number): number {
    if (SOCKET_SCHEMA_VERSIONS.includes(version)) return version;
    throw new DecodeError(`SFHeader version ${version} has no known layout (known: ${SOCKET_SCHEMA_VERSIONS.join(', ')}); the connection keeps v${this.version ?? SYSFLOW_SCHEMA_VERSION}`, at);
  }

  /** Decode one message (buf[start, end)) into out; a bad message is counted and dropped. */
  message(buf: Buffer, start: number, end: number, out: SysFlowRecord[]): void {
    const index = ++this.messages;
    const t = this.tap;
    let decode = this.decode;
    let layout = -1;
    try {
      if (end === start) throw new DecodeError('empty message', start);
      t.reset(buf, start, end);
      if (t.readLong() === SfType.H) {
        // The header says which layout it and everything after it use.
        layout = this.layoutFor(t.readLong(), start);
        decode = socketDecoder(layout)!.decode;
        t.reset(buf, start, end);
      } else {
        t.pos = start;
      }
      const rec = decode(t);
      if (rec === null) throw new DecodeError('record type not handled', start);
      if (t.pos !== end) throw new DecodeError(`${end - t.pos} bytes left over after the datum`, t.pos);
      if (layout >= 0) this.header(rec as SFHeader, layout, decode);
      out.push(rec);
      this.records++;
    } catch (e) {
      this.bad++;
      const where = e instanceof DecodeError ? ` at byte ${e.pos - start}` : ''; // Tap positions are absolute
      this.problem(`connection #${this.n}, message ${index}: bad message (${end - start} bytes${where}), dropped: ${(e as Error).message}`);
    }
  }

  private header(h: SFHeader, layout: number, decode: typeof this.decode): void {
    this.decode = decode;
    const first = this.version === null;
    const changed = this.version !== layout;
    this.version = layout;
    const text = `connection #${this.n}: SFHeader version ${h.version} from exporter '${h.exporter}'${h.ip ? ` (${h.ip})` : ''}`;
    if (first || changed) this.log.info(text);
    else this.log.debug(text);
  }

  /** SEQPACKET batch from the addon: payloads back to back; a negative length is an oversize message. */
  packets(data: Buffer, lengths: Int32Array): SysFlowRecord[] {
    const out: SysFlowRecord[] = [];
    let off = 0;
    for (let i = 0; i < lengths.length; i++) {
      const len = lengths[i]!;
      if (len < 0) {
        this.tooBig(len === -2147483648 ? 2147483648 : -len);
        continue;
      }
      this.message(data, off, off + len, out);
      off += len;
    }
    return out;
  }
}

/** The listening socket and its accept loop. */
class SocketServer {
  private readonly u: UnixPacket;
  private listenFd = -1;
  private poller: Poller | null = null;
  private onListenReadable: (() => void) | null = null;
  private ident: { dev: number; ino: number } | null = null;
  private connections = 0;
  private readonly totals: Counters = { messages: 0, records: 0, bad: 0, oversize: 0 };

  constructor(
    private readonly o: SocketOptions,
    private readonly ctx: DriverRunContext,
  ) {
    this.u = unixpacket();
  }

  private get log(): Logger {
    return this.ctx.log;
  }

  async run(): Promise<void> {
    const { path, type, mode, backlog, maxSize } = this.o;
    if (await makeRoomForSocket(path, (p) => this.u.probe(p, type))) this.log.info(`removed stale socket file ${path}`);
    try {
      this.listenFd = this.u.listen(path, type, backlog, mode);
    } catch (e) {
      const code = (e as AddonError).code;
      if (code === 'EADDRINUSE') throw new InputError(`${path}: already in use (another process created it just now)`);
      throw new InputError(`${path}: cannot listen: ${(e as Error).message}`);
    }
    try {
      const st = statSync(path);
      this.ident = { dev: st.dev, ino: st.ino };
      this.poller = new this.u.Poller(this.listenFd, () => this.onListenReadable?.());
      this.log.info(`listening on ${path} (${type}, mode ${mode.toString(8).padStart(4, '0')}, max message ${maxSize} bytes)`);
      while (!this.ctx.signal.aborted) {
        const fd = await this.acceptOne();
        if (fd < 0) break;
        await this.serve(fd);
      }
    } finally {
      this.shutdown();
    }
  }

  private shutdown(): void {
    this.poller?.close();
    this.poller = null;
    if (this.listenFd >= 0) {
      try {
        this.u.close(this.listenFd);
      } catch {
        /* closing a listener cannot fail in a way we could act on */
      }
      this.listenFd = -1;
    }
    // Remove the file only if it is still ours (not replaced by someone else meanwhile).
    const st = lstatOrNull(this.o.path);
    if (st && this.ident && st.isSocket() && st.dev === this.ident.dev && st.ino === this.ident.ino) {
      try {
        unlinkSync(this.o.path);
      } catch (e) {
        this.log.warn(`${this.o.path}: cannot remove the socket file: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      }
    }
    this.log.info(`socket driver: ${this.connections} connections, ${countersText(this.totals)}`);
  }

  /** The next connection's fd, or -1 on shutdown. */
  private acceptOne(): Promise<number> {
    return new Promise<number>((resolve) => {
      const signal = this.ctx.signal;
      let done = false;
      let retry: NodeJS.Timeout | undefined;
      const finish = (fd: number) => {
        if (done) return;
        done = true;
        clearTimeout(retry);
        this.poller?.stop();
        this.onListenReadable = null;
        signal.removeEventListener('abort', onAbort);
        resolve(fd);
      };
      const onAbort = () => finish(-1);
      const attempt = () => {
        let fd: number;
        try {
          fd = this.u.accept(this.listenFd);
        } catch (e) {
          // e.g. EMFILE: the connection stays queued; try again once descriptors may be free.
          this.log.error(`${this.o.path}: accept: ${(e as Error).message}; retrying in 1 s`);
          this.poller?.stop();
          retry = setTimeout(() => {
            if (!done) this.poller?.start(READABLE);
          }, 1000);
          return;
        }
        if (fd >= 0) finish(fd);
      };
      if (signal.aborted) return finish(-1);
      signal.addEventListener('abort', onAbort, { once: true });
      this.onListenReadable = attempt;
      this.poller!.start(READABLE);
    });
  }

  private async serve(fd: number): Promise<void> {
    const n = ++this.connections;
    const conn = new Connection(n, this.log, this.o.maxSize);
    this.log.info(`accepted collector connection #${n}`);
    let reason = 'closed';
    try {
      reason = this.o.type === 'seqpacket' ? await this.servePackets(fd, conn) : await this.serveStream(fd, conn);
    } catch (e) {
      reason = 'pipeline failed';
      throw e;
    } finally {
      this.totals.messages += conn.messages;
      this.totals.records += conn.records;
      this.totals.bad += conn.bad;
      this.totals.oversize += conn.oversize;
      const line = `collector connection #${n} closed (${reason}): ${countersText(conn)}`;
      if (conn.bad || conn.oversize) this.log.warn(line);
      else this.log.info(line);
    }
  }

  /**
   * Shared life cycle of a connection: push each decoded batch and hold reading until the pipeline
   * takes more; stop on end of input, error or shutdown, after the batch in flight was pushed.
   * Resolves with why the connection ended; rejects if the pipeline failed.
   */
  private lifecycle(pause: () => void, resume: () => void, close: () => void) {
    const signal = this.ctx.signal;
    let inFlight = false;
    let ended: string | null = null;
    let failure: unknown = null;
    let settle: ((reason: string) => void) | null = null;
    let fail: ((e: unknown) => void) | null = null;
    const done = new Promise<string>((res, rej) => {
      settle = res;
      fail = rej;
    });
    const finish = () => (failure ? fail!(failure) : settle!(ended!));
    const onAbort = () => stop('shutdown');
    const stop = (why: string) => {
      if (ended) return;
      ended = why;
      signal.removeEventListener('abort', onAbort);
      close();
      if (!inFlight) finish();
    };
    const push = (batch: SysFlowRecord[]) => {
      if (batch.length === 0) return;
      inFlight = true;
      pause();
      this.ctx.push(batch).then(
        () => {
          inFlight = false;
          if (ended) finish();
          else resume();
        },
        (e: unknown) => {
          inFlight = false;
          failure = e;
          if (ended) finish();
          else stop('pipeline failed');
        },
      );
    };
    const start = () => {
      if (signal.aborted) stop('shutdown');
      else {
        signal.addEventListener('abort', onAbort, { once: true });
        resume();
      }
    };
    return {
      done,
      push,
      stop,
      start,
      get ended() {
        return ended !== null;
      },
    };
  }

  private servePackets(fd: number, conn: Connection): Promise<string> {
    let reader: { resume(): void; pause(): void; close(): void } | null = null;
    const lc = this.lifecycle(
      () => reader!.pause(),
      () => reader!.resume(),
      () => reader!.close(),
    );
    try {
      reader = new this.u.PacketReader(fd, this.o.maxSize, (data, lengths, end) => {
        if (data && lengths) lc.push(conn.packets(data, lengths));
        if (end) lc.stop(end === 'eof' ? 'end of stream' : `read error: ${end.message}`);
      });
    } catch (e) {
      this.u.close(fd);
      throw e;
    }
    lc.start();
    return lc.done;
  }

  private serveStream(fd: number, conn: Connection): Promise<string> {
    const max = this.o.maxSize;
    const sock = new Socket({ fd, readable: true, writable: false });
    const lc = this.lifecycle(
      () => sock.pause(),
      () => sock.resume(),
      () => sock.destroy(),
    );
    // Unconsumed bytes: chunks kept whole until a frame is complete (no re-copying per chunk).
    let chunks: Buffer[] = [];
    let buffered = 0;
    let need = 4; // bytes needed before the next parse step can progress
    sock.on('data', (chunk: Buffer) => {
      if (lc.ended) return;
      chunks.push(chunk);
      buffered += chunk.length;
      if (buffered < need) return;
      const buf = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, buffered);
      const out: SysFlowRecord[] = [];
      let off = 0;
      need = 4;
      while (buf.length - off >= 4) {
        const len = buf.readUInt32BE(off);
        if (len > max) {
          conn.tooBig(len);
          lc.push(out);
          lc.stop('oversize length prefix; the stream cannot be resynchronised');
          return;
        }
        if (buf.length - off - 4 < len) {
          need = 4 + len;
          break;
        }
        conn.message(buf, off + 4, off + 4 + len, out);
        off += 4 + len;
      }
      const rest = buf.length - off;
      chunks = rest > 0 ? [buf.subarray(off)] : [];
      buffered = rest;
      lc.push(out);
    });
    sock.on('end', () => {
      if (!lc.ended && buffered > 0) conn.truncatedAtEnd(buffered);
      lc.stop('end of stream');
    });
    sock.on('error', (e) => lc.stop(`read error: ${e.message}`));
    sock.on('close', () => lc.stop('closed'));
    sock.pause();
    lc.start();
    return lc.done;
  }
}

export const socketDriver: DriverFactory = {
  name: 'socket',
  description: 'serves a Unix socket (SEQPACKET, or length-prefixed STREAM) for a live collector: one Avro SysFlow datum per message',
  outType: 'sysflowchan',
  config: CONFIG,
  live: true,
  check(path, attrs) {
    checkSocketLocation(socketOptions(path, attrs).path);
  },
  async run(path, ctx) {
    await new SocketServer(socketOptions(path, ctx.attrs), ctx).run();
  },
};
