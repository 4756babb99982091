/** Built-in local transports: terminal (stdout), file (append), null (discard). */
import { FileSink, NullSink, ByteSink } from '../util/bytes.js';
import { write as fsWrite, close as fsClose } from 'node:fs';
import type { Transport } from './types.js';
import type { TransportFactory } from '../pipeline/types.js';
import { openSync } from 'node:fs';
import { dirname } from 'node:path';
import { mkdirSync, existsSync, accessSync, constants } from 'node:fs';

class SinkTransport implements Transport {
  constructor(readonly name: string, readonly sink: ByteSink) {}
  ready(): null {
    return null;
  }
  async close(): Promise<void> {
    this.sink.close();
  }
}

export const terminalTransport: TransportFactory = {
  name: 'terminal',
  create: () => new SinkTransport('terminal', new FileSink(1, 64 << 10)),
};

export const nullTransport: TransportFactory = {
  name: 'null',
  create: () => new SinkTransport('null', new NullSink()),
};

/**
 * File output written by libuv's thread pool while the pipeline encodes the next batch. At most
 * `maxQueued` bytes wait; beyond that ready() makes the driver pause (backpressure).
 */
class AsyncFileSink extends ByteSink {
  private queue: Buffer[] = [];
  private queued = 0;
  private writing = false;
  private error: Error | null = null;
  private waiters: (() => void)[] = [];

  constructor(private readonly fd: number, private readonly maxQueued = 8 << 20) {
    super(1 << 20);
  }

  /** Spare 1 MiB buffers: a full buffer is handed to the writer and a spare takes its place, no copy. */
  private spares: Buffer[] = [];

  protected emit(chunk: Buffer): void {
    if (this.error) throw this.error;
    if (chunk.buffer === this.buf.buffer && chunk.byteOffset === this.buf.byteOffset) {
      const full = this.buf;
      this.buf = this.spares.pop() ?? Buffer.allocUnsafeSlow(full.length);
      this.owners.set(chunk, full);
    } else chunk = Buffer.from(chunk);
    this.queue.push(chunk);
    this.queued += chunk.length;
    if (!this.writing) this.pump();
  }

  private owners = new WeakMap<Buffer, Buffer>();

  private release(chunk: Buffer): void {
    const full = this.owners.get(chunk);
    if (full && this.spares.length < 4 && full.length === this.buf.length) this.spares.push(full);
  }

  private pump(): void {
    const buf = this.queue[0];
    if (buf === undefined) {
      this.writing = false;
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
      return;
    }
    this.writing = true;
    fsWrite(this.fd, buf, 0, buf.length, null, (err, n) => {
      if (err) {
        this.error = new Error(`write failed: ${err.code ?? err.message}`);
        this.queue = [];
        this.queued = 0;
        this.writing = false;
        for (const f of this.waiters.splice(0)) f();
        return;
      }
      if (n < buf.length) {
        const rest = buf.subarray(n);
        const owner = this.owners.get(buf);
        if (owner) this.owners.set(rest, owner);
        this.queue[0] = rest;
      } else {
        this.queue.shift();
        this.release(buf);
      }
      this.queued -= n;
      if (this.queued <= this.maxQueued / 2) for (const f of this.waiters.splice(0)) f();
      this.pump();
    });
  }

  /** Pending while more than maxQueued bytes wait to be written. */
  ready(): Promise<void> | null {
    if (this.queued <= this.maxQueued) return null;
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Everything written (or failed). */
  async drained(): Promise<void> {
    this.flush();
    while (this.writing || this.queue.length) await new Promise<void>((r) => this.waiters.push(r));
    if (this.error) throw this.error;
  }

  async closeFile(): Promise<void> {
    try {
      await this.drained();
    } finally {
      await new Promise<void>((r) => fsClose(this.fd, () => r()));
    }
  }
}

class AsyncFileTransport implements Transport {
  readonly name = 'file';
  constructor(readonly sink: AsyncFileSink) {}
  ready(): Promise<void> | null {
    return this.sink.ready();
  }
  close(): Promise<void> {
    return this.sink.closeFile();
  }
}

export const fileTransport: TransportFactory = {
  name: 'file',
  check(attrs) {
    const path = attrs['file.path'] || './export.out';
    let dir = dirname(path);
    while (!existsSync(dir)) dir = dirname(dir);
    try {
      accessSync(existsSync(path) ? path : dir, constants.W_OK);
    } catch {
      throw new Error(`attribute 'file.path': '${path}' is not writable`);
    }
  },
  create(attrs) {
    const path = attrs['file.path'] || './export.out';
    let fd: number;
    try {
      mkdirSync(dirname(path), { recursive: true });
      fd = openSync(path, 'a', 0o644);
    } catch (e) {
      throw new Error(`attribute 'file.path': cannot open '${path}' for appending (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    return new AsyncFileTransport(new AsyncFileSink(fd));
  },
};
