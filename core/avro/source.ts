import { openSync, readSync, closeSync, fstatSync } from 'node:fs';

/** Random access to input bytes: a file read through a sliding window, or an in-memory buffer. */
export interface ByteSource {
  readonly size: number;
  /** Bytes [pos, pos+n) clipped to the end of the input; the view is valid until the next call. */
  view(pos: number, n: number): Buffer;
  close(): void;
}

export class BufferSource implements ByteSource {
  readonly size: number;
  constructor(private readonly buf: Buffer) {
    this.size = buf.length;
  }
  view(pos: number, n: number): Buffer {
    return this.buf.subarray(pos, Math.min(this.size, pos + n));
  }
  close(): void {}
}

const CHUNK = 1 << 20;

/** Reads a file in ≥1 MiB chunks, keeping only the current window in memory. */
export class FileSource implements ByteSource {
  readonly size: number;
  private fd: number;
  private buf = Buffer.allocUnsafe(CHUNK);
  private start = 0; // file offset of buf[0]
  private len = 0; // valid bytes in buf

  constructor(path: string) {
    this.fd = openSync(path, 'r');
    this.size = fstatSync(this.fd).size;
  }

  view(pos: number, n: number): Buffer {
    const want = Math.min(this.size, pos + n);
    if (pos >= this.start && want <= this.start + this.len) {
      return this.buf.subarray(pos - this.start, want - this.start);
    }
    const need = want - pos;
    const cap = Math.max(CHUNK, need);
    if (this.buf.length < cap) this.buf = Buffer.allocUnsafe(cap);
    // Keep bytes already in the window that we still need, read the rest.
    let have = 0;
    if (pos >= this.start && pos < this.start + this.len) {
      have = this.start + this.len - pos;
      this.buf.copy(this.buf, 0, pos - this.start, this.start + this.len);
    }
    this.start = pos;
    const fill = Math.min(this.buf.length, this.size - pos);
    while (have < fill) {
      const r = readSync(this.fd, this.buf, have, fill - have, pos + have);
      if (r <= 0) break;
      have += r;
    }
    this.len = have;
    return this.buf.subarray(0, Math.min(have, want - pos));
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}
