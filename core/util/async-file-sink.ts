/**
 * File output written by libuv's thread pool while the caller keeps encoding. Each full buffer is
 * written at once with an explicit file offset (so several writes can be in flight and still land
 * in order) and handed over without a copy; a spare buffer takes its place. At most `maxInFlight`
 * bytes may be pending; beyond that ready() returns a promise (backpressure).
 *
 * A small chunk (a flush after a batch with a few alerts) is written at once instead, when nothing
 * is in flight: handing it to the thread pool costs more than the write (tens of microseconds on
 * this VM, for a few kilobytes), and the buffer is kept instead of being swapped for a spare.
 *
 * The descriptor must not be in O_APPEND mode (Linux ignores pwrite offsets there): to append, open
 * it for writing and pass the current size as `offset`.
 */
import { write as fsWrite, writeSync, close as fsClose } from 'node:fs';
import { ByteSink } from './bytes.js';

/** Chunks up to this size are written synchronously (see above). */
const SMALL = 64 << 10;

export class AsyncFileSink extends ByteSink {
  private offset: number;
  private inFlight = 0;
  private error: Error | null = null;
  private waiters: (() => void)[] = [];
  private spares: Buffer[] = [];

  constructor(
    private fd: number,
    offset = 0,
    private readonly maxInFlight = 8 << 20,
  ) {
    super(1 << 20);
    this.offset = offset;
  }

  protected emit(chunk: Buffer): void {
    if (this.error) throw this.error;
    if (chunk.length <= SMALL && this.inFlight === 0) {
      let n = 0;
      try {
        while (n < chunk.length) n += writeSync(this.fd, chunk, n, chunk.length - n, this.offset + n);
      } catch (e) {
        this.error = new Error(`write failed: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
        throw this.error;
      }
      this.offset += n;
      return;
    }
    let owner: Buffer | null = null;
    if (chunk.buffer === this.buf.buffer && chunk.byteOffset === this.buf.byteOffset) {
      owner = this.buf;
      this.buf = this.spares.pop() ?? Buffer.allocUnsafeSlow(owner.length);
    } else chunk = Buffer.from(chunk);
    const at = this.offset;
    this.offset += chunk.length;
    this.inFlight += chunk.length;
    this.writeAt(chunk, at, owner);
  }

  private writeAt(chunk: Buffer, at: number, owner: Buffer | null): void {
    fsWrite(this.fd, chunk, 0, chunk.length, at, (err, n) => {
      if (err) {
        this.error ??= new Error(`write failed: ${err.code ?? err.message}`);
        this.inFlight -= chunk.length;
      } else if (n < chunk.length) {
        this.inFlight -= n;
        this.writeAt(chunk.subarray(n), at + n, owner);
        return;
      } else {
        this.inFlight -= n;
        if (owner && this.spares.length < 8 && owner.length === this.buf.length) this.spares.push(owner);
      }
      if (this.inFlight <= this.maxInFlight / 2 || this.error) for (const f of this.waiters.splice(0)) f();
      else if (this.inFlight === 0) for (const f of this.waiters.splice(0)) f();
    });
  }

  /** Pending while more than maxInFlight bytes are being written. */
  ready(): Promise<void> | null {
    if (this.inFlight <= this.maxInFlight && !this.error) return null;
    if (this.error) return Promise.reject(this.error);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Everything written (or failed). */
  async drained(): Promise<void> {
    this.flush();
    while (this.inFlight > 0 && !this.error) await new Promise<void>((r) => this.waiters.push(r));
    if (this.error) throw this.error;
  }

  /** Continue in another file (rotation). Only when drained(): nothing may be in flight on the old one. */
  reopen(fd: number, offset: number): void {
    if (this.inFlight !== 0) throw new Error('reopen with writes in flight');
    this.fd = fd;
    this.offset = offset;
  }

  /** Bytes written or being written to the current file. */
  get size(): number {
    return this.offset + this.pos;
  }

  async closeFile(): Promise<void> {
    try {
      await this.drained();
    } finally {
      await new Promise<void>((r) => fsClose(this.fd, () => r()));
    }
  }
}
