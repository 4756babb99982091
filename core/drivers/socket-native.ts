/**
 * Typed access to the unixpacket addon (native/unixpacket, package @sfprocessor/unixpacket), loaded on
 * first use so that everything else works where it is not built; and a small non-blocking SEQPACKET
 * client (one datum per message, as sf-collector sends) for tests and tools.
 */
import { createRequire } from 'node:module';

export type SocketType = 'seqpacket' | 'stream';

/** Errors from the addon carry the errno name, as Node's own do. */
export interface AddonError extends Error {
  code: string;
  errno: number;
  syscall: string;
  path?: string;
}

/** Readiness of one fd through a libuv poll handle (events: READABLE | WRITABLE). */
export interface Poller {
  start(events: number): void;
  stop(): void;
  /** Stops for good; does not close the fd. */
  close(): void;
}

/**
 * Called with each batch read from a SEQPACKET connection: `data` holds the accepted messages back to
 * back, `lengths` one entry per message in arrival order (n ≥ 0: n bytes in data; n < 0: an oversize
 * message of -n bytes, consumed and not in data). `end` is 'eof' or an error on the last call.
 */
export type PacketCallback = (data: Buffer | null, lengths: Int32Array | null, end: null | 'eof' | AddonError) => void;

export interface PacketReader {
  /** Start (or restart) reading; batches arrive through the callback. */
  resume(): void;
  /** Stop reading; unread messages wait in the kernel and the sender blocks when its buffer fills. */
  pause(): void;
  /** Stop for good and close the fd. */
  close(): void;
}

export interface UnixPacket {
  /** socket + bind + listen; the file never has more permissions than `mode`. Returns the fd. */
  listen(path: string, type: SocketType, backlog: number, mode: number): number;
  /** True if a process listens on the socket file, false if the file is stale; throws otherwise. */
  probe(path: string, type: SocketType): boolean;
  /** A connected non-blocking client fd; EAGAIN when the listener's backlog is full. */
  connect(path: string, type: SocketType, sndbuf?: number): number;
  /** A new connection fd, or -1 when none is pending. */
  accept(fd: number): number;
  /** One message; false when the socket buffer is full. */
  send(fd: number, message: Uint8Array): boolean;
  /** messages[start..], one message each, until the buffer fills; returns how many were sent. */
  sendBatch(fd: number, messages: readonly Uint8Array[], start: number): number;
  close(fd: number): void;
  Poller: new (fd: number, cb: (err: AddonError | null, events: number) => void) => Poller;
  PacketReader: new (fd: number, maxMessage: number, cb: PacketCallback) => PacketReader;
  /** Most messages per PacketReader callback. */
  readonly BATCH_MESSAGES: number;
  /** Largest maxMessage a PacketReader accepts. */
  readonly MAX_MESSAGE_LIMIT: number;
}

export const READABLE = 1;
export const WRITABLE = 2;

let addon: UnixPacket | undefined;

/** The addon; throws one clear line when it is not built. */
export function unixpacket(): UnixPacket {
  if (!addon) {
    try {
      addon = createRequire(import.meta.url)('@sfprocessor/unixpacket') as UnixPacket;
    } catch (e) {
      const why = String((e as Error).message).split('\n')[0];
      throw new Error(`the unixpacket addon (native/unixpacket) is not available: ${why}; build it with 'npm ci' or 'npm rebuild @sfprocessor/unixpacket' (needs a C compiler)`);
    }
  }
  return addon;
}

export function isAddonError(e: unknown, code?: string): e is AddonError {
  return e instanceof Error && typeof (e as AddonError).code === 'string' && (code === undefined || (e as AddonError).code === code);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A SEQPACKET client: connect, send one message per datum, close. */
export class PacketClient {
  private poller: Poller | null = null;
  private waiter: { resolve: () => void; reject: (e: Error) => void } | null = null;
  private closed = false;

  private constructor(
    readonly fd: number,
    private readonly u: UnixPacket,
  ) {}

  /**
   * Connect to a SEQPACKET server. While its backlog is full (EAGAIN) or the socket file is not there
   * yet (ENOENT, ECONNREFUSED: the server is starting), retry for up to `timeoutMs`.
   */
  static async connect(path: string, opts: { sndbuf?: number; timeoutMs?: number } = {}): Promise<PacketClient> {
    const u = unixpacket();
    const deadline = Date.now() + (opts.timeoutMs ?? 0);
    for (;;) {
      try {
        return new PacketClient(u.connect(path, 'seqpacket', opts.sndbuf ?? 0), u);
      } catch (e) {
        const retry = isAddonError(e) && ['EAGAIN', 'ENOENT', 'ECONNREFUSED'].includes(e.code);
        if (!retry || Date.now() >= deadline) throw e;
        await sleep(10);
      }
    }
  }

  private writable(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.poller ??= new this.u.Poller(this.fd, (err) => {
        const w = this.waiter;
        this.waiter = null;
        this.poller?.stop();
        if (err) w?.reject(err);
        else w?.resolve();
      });
      this.poller.start(WRITABLE);
    });
  }

  /** Send one message, waiting while the socket buffer is full. */
  async send(message: Uint8Array): Promise<void> {
    while (!this.u.send(this.fd, message)) await this.writable();
  }

  /** Send each message as one SEQPACKET message, in order, waiting for buffer space as needed. */
  async sendAll(messages: readonly Uint8Array[]): Promise<void> {
    let i = 0;
    while (i < messages.length) {
      i += this.u.sendBatch(this.fd, messages, i);
      if (i < messages.length) await this.writable();
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.poller?.close();
    this.waiter?.reject(new Error('client closed'));
    this.u.close(this.fd);
  }
}
