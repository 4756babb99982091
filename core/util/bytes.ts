/**
 * Byte-level output: text is encoded straight into one reusable buffer and handed over in large
 * chunks. JSON writers use the ASCII/JSON helpers to avoid building per-line strings at all (no
 * ropes to flatten, no re-encoding, little garbage).
 */
import { closeSync, openSync, writeSync } from 'node:fs';

const HEX = [48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 97, 98, 99, 100, 101, 102];
const DIGITS = new Uint8Array(24);

export abstract class ByteSink {
  protected buf: Buffer;
  pos = 0;
  /** True once the reader went away (EPIPE): producers stop early. */
  closedPipe = false;

  constructor(capacity = 1 << 20) {
    this.buf = Buffer.allocUnsafe(capacity);
  }

  /** Hand over buf[0, pos). */
  protected abstract emit(chunk: Buffer): void;

  flush(): void {
    if (this.pos > 0 && !this.closedPipe) this.emit(this.buf.subarray(0, this.pos));
    this.pos = 0;
  }

  /** Make room for n more bytes. */
  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.flush();
    if (n > this.buf.length) this.buf = Buffer.allocUnsafe(Math.max(n, this.buf.length * 2));
  }

  /** Text of any kind, UTF-8. */
  write(s: string): void {
    const max = s.length * 3;
    if (this.pos + max > this.buf.length) {
      this.flush();
      if (max > this.buf.length) {
        this.emit(Buffer.from(s, 'utf8'));
        return;
      }
    }
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /** Pre-encoded bytes (constant JSON fragments). */
  bytes(b: Uint8Array): void {
    const n = b.length;
    if (this.pos + n > this.buf.length) this.ensure(n);
    const buf = this.buf;
    let p = this.pos;
    if (n < 48) for (let i = 0; i < n; i++) buf[p++] = b[i]!;
    else {
      buf.set(b, p);
      p += n;
    }
    this.pos = p;
  }

  /** A string known to be printable ASCII (digits, constant keys). */
  ascii(s: string): void {
    const n = s.length;
    if (this.pos + n > this.buf.length) this.ensure(n);
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) buf[p++] = s.charCodeAt(i);
    this.pos = p;
  }

  byte(c: number): void {
    if (this.pos >= this.buf.length) this.ensure(1);
    this.buf[this.pos++] = c;
  }

  /** A number as JSON: integers digit by digit, anything else through String(). */
  number(v: number): void {
    if (v >= 0 && v < 2147483648 && (v | 0) === v) {
      this.ensure(11);
      if (v < 10) {
        this.buf[this.pos++] = 48 + v;
        return;
      }
      let n = 0;
      while (v > 0) {
        const q = (v / 10) | 0;
        DIGITS[n++] = 48 + v - q * 10;
        v = q;
      }
      const buf = this.buf;
      let p = this.pos;
      while (n > 0) buf[p++] = DIGITS[--n]!;
      this.pos = p;
      return;
    }
    this.ascii(String(v));
  }

  /**
   * A JSON string literal with Python json.dumps escaping (ensure_ascii): everything outside
   * 0x20–0x7e is escaped, control characters by name where JSON has one, the rest as \u00xx.
   */
  pyJsonString(s: string): void {
    const n = s.length;
    this.ensure(n * 6 + 2);
    const buf = this.buf;
    let p = this.pos;
    buf[p++] = 34;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x20 && c < 0x7f && c !== 34 && c !== 92) {
        buf[p++] = c;
        continue;
      }
      buf[p++] = 92;
      switch (c) {
        case 34: buf[p++] = 34; break;
        case 92: buf[p++] = 92; break;
        case 10: buf[p++] = 110; break;
        case 13: buf[p++] = 114; break;
        case 9: buf[p++] = 116; break;
        case 8: buf[p++] = 98; break;
        case 12: buf[p++] = 102; break;
        default:
          buf[p++] = 117;
          buf[p++] = HEX[(c >> 12) & 15]!;
          buf[p++] = HEX[(c >> 8) & 15]!;
          buf[p++] = HEX[(c >> 4) & 15]!;
          buf[p++] = HEX[c & 15]!;
      }
    }
    buf[p++] = 34;
    this.pos = p;
  }

  close(): void {
    this.flush();
  }
}

/** Writes to a file descriptor or a path; EPIPE (reader gone, e.g. `| head`) ends output quietly. */
export class FileSink extends ByteSink {
  private readonly fd: number;
  private readonly owned: boolean;

  constructor(target: number | string, capacity?: number) {
    super(capacity);
    if (typeof target === 'number') {
      this.fd = target;
      this.owned = false;
    } else {
      this.fd = openSync(target, 'w');
      this.owned = true;
    }
  }

  protected emit(chunk: Buffer): void {
    let off = 0;
    while (off < chunk.length) {
      try {
        off += writeSync(this.fd, chunk, off, chunk.length - off);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') continue;
        if (code === 'EPIPE') {
          this.closedPipe = true;
          return;
        }
        throw e;
      }
    }
  }

  override close(): void {
    this.flush();
    if (this.owned) closeSync(this.fd);
  }
}

/** Collects output in memory (tests, in-process use). */
export class MemorySink extends ByteSink {
  private chunks: Buffer[] = [];
  protected emit(chunk: Buffer): void {
    this.chunks.push(Buffer.from(chunk));
  }
  text(): string {
    this.flush();
    return Buffer.concat(this.chunks).toString('utf8');
  }
}
