/**
 * Byte-level output: text is encoded straight into one reusable buffer and handed over in large
 * chunks. JSON writers use the ASCII/JSON helpers to avoid building per-line strings at all (no
 * ropes to flatten, no re-encoding, little garbage).
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { exactToString, secOf } from './i64.js';

const HEX = [48, 49, 50, 51, 52, 53, 54, 55, 56, 57, 97, 98, 99, 100, 101, 102];
const DIGITS = new Uint8Array(24);
/** Buffer's native one-byte writer (a Node API not in @types/node). */
type LatinBuffer = Buffer & { latin1Write(s: string, offset: number): number };
const GO_NEEDS_ESCAPE = /[^\x20-\x7e]|["\\<>&]/;
const PY_NEEDS_ESCAPE = /[^\x20-\x7e]|["\\]/;

export abstract class ByteSink {
  protected buf: Buffer;
  pos = 0;
  /** True once the reader went away (EPIPE): producers stop early. */
  closedPipe = false;
  /** Times the buffer was emptied: bytes written since a position are all in the buffer while this is unchanged. */
  flushes = 0;

  constructor(capacity = 1 << 20) {
    this.buf = Buffer.allocUnsafe(capacity);
  }

  /** Hand over buf[0, pos). */
  protected abstract emit(chunk: Buffer): void;

  flush(): void {
    if (this.pos > 0 && !this.closedPipe) this.emit(this.buf.subarray(0, this.pos));
    this.pos = 0;
    this.flushes++;
  }

  /** Copy what was written since position `from` (no flush since) into target at `at`. */
  copyOut(from: number, target: Uint8Array, at: number): void {
    target.set(this.buf.subarray(from, this.pos), at);
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
    if (n < 16) for (let i = 0; i < n; i++) buf[p++] = b[i]!;
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

  /** "s" for text that needs no escaping: one native copy (room ensured by the caller). */
  private quotedAscii(s: string): void {
    const buf = this.buf;
    buf[this.pos++] = 34;
    this.pos += (buf as LatinBuffer).latin1Write(s, this.pos);
    buf[this.pos++] = 34;
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
    if (!PY_NEEDS_ESCAPE.test(s)) {
      this.quotedAscii(s);
      return;
    }
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
        case 34:
          buf[p++] = 34;
          break;
        case 92:
          buf[p++] = 92;
          break;
        case 10:
          buf[p++] = 110;
          break;
        case 13:
          buf[p++] = 114;
          break;
        case 9:
          buf[p++] = 116;
          break;
        case 8:
          buf[p++] = 98;
          break;
        case 12:
          buf[p++] = 102;
          break;
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

  /** An exact 64-bit integer held as (nearest double, value mod 1e9): see core/util/i64.ts. */
  exact(d: number, ns: number): void {
    if (d >= 0 && d <= 9007199254740991) {
      if (d < 2147483648) this.number(d);
      else this.ascii(String(d));
      return;
    }
    if (d < 0) {
      this.ascii(exactToString(d, ns));
      return;
    }
    this.number(secOf(d, ns)); // < 2^31 for any date before 2038; larger values go through String()
    this.ensure(9);
    const buf = this.buf;
    let p = this.pos + 9;
    let v = ns;
    for (let i = 0; i < 9; i++) {
      const q = (v / 10) | 0;
      buf[--p] = 48 + v - q * 10;
      v = q;
    }
    this.pos += 9;
  }

  /**
   * A JSON string as Go's encoders write it: ", \, \n, \r, \t escaped, other controls as \u00xx,
   * < > & and U+2028/U+2029 escaped, everything else UTF-8 (lone surrogates become U+FFFD).
   */
  goJsonString(s: string): void {
    const n = s.length;
    this.ensure(n * 6 + 2);
    if (!GO_NEEDS_ESCAPE.test(s)) {
      this.quotedAscii(s); // printable ASCII without <, >, &, ", \
      return;
    }
    const buf = this.buf;
    let p = this.pos;
    buf[p++] = 34;
    for (let i = 0; i < n; i++) {
      let c = s.charCodeAt(i);
      if (c >= 0x20 && c < 0x80) {
        if (c === 34 || c === 92) {
          buf[p++] = 92;
          buf[p++] = c;
        } else if (c === 60 || c === 62 || c === 38) {
          buf[p++] = 92;
          buf[p++] = 117;
          buf[p++] = 48;
          buf[p++] = 48;
          buf[p++] = HEX[c >> 4]!;
          buf[p++] = HEX[c & 15]!;
        } else buf[p++] = c;
      } else if (c < 0x20) {
        buf[p++] = 92;
        if (c === 10) buf[p++] = 110;
        else if (c === 13) buf[p++] = 114;
        else if (c === 9) buf[p++] = 116;
        else {
          buf[p++] = 117;
          buf[p++] = 48;
          buf[p++] = 48;
          buf[p++] = HEX[c >> 4]!;
          buf[p++] = HEX[c & 15]!;
        }
      } else if (c === 0x2028 || c === 0x2029) {
        buf[p++] = 92;
        buf[p++] = 117;
        buf[p++] = 50;
        buf[p++] = 48;
        buf[p++] = 50;
        buf[p++] = c === 0x2028 ? 56 : 57;
      } else {
        if (c >= 0xd800 && c < 0xdc00 && i + 1 < n) {
          const d = s.charCodeAt(i + 1);
          if (d >= 0xdc00 && d < 0xe000) {
            c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
            i++;
          } else c = 0xfffd;
        } else if (c >= 0xd800 && c < 0xe000) c = 0xfffd;
        if (c < 0x800) {
          buf[p++] = 0xc0 | (c >> 6);
          buf[p++] = 0x80 | (c & 63);
        } else if (c < 0x10000) {
          buf[p++] = 0xe0 | (c >> 12);
          buf[p++] = 0x80 | ((c >> 6) & 63);
          buf[p++] = 0x80 | (c & 63);
        } else {
          buf[p++] = 0xf0 | (c >> 18);
          buf[p++] = 0x80 | ((c >> 12) & 63);
          buf[p++] = 0x80 | ((c >> 6) & 63);
          buf[p++] = 0x80 | (c & 63);
        }
      }
    }
    buf[p++] = 34;
    this.pos = p;
  }

  close(): void {
    this.flush();
  }
}

/** Discards everything (the `null` transport, benchmarks). */
export class NullSink extends ByteSink {
  bytesDiscarded = 0;
  protected emit(chunk: Buffer): void {
    this.bytesDiscarded += chunk.length;
  }
}

/** Writes to a file descriptor or a path; EPIPE (reader gone, e.g. `| head`) ends output quietly. */
export class FileSink extends ByteSink {
  private readonly fd: number;
  private readonly owned: boolean;

  /** A number target is a descriptor, closed on close() only when `own` is set. */
  constructor(target: number | string, capacity?: number, own = false) {
    super(capacity);
    if (typeof target === 'number') {
      this.fd = target;
      this.owned = own;
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

/** Collects small fragments (memoised JSON pieces): take() returns the bytes written since the last take. */
export class Scratch extends ByteSink {
  private parts: Buffer[] = [];
  constructor() {
    super(4096);
  }
  protected emit(chunk: Buffer): void {
    this.parts.push(Buffer.from(chunk));
  }
  take(): Buffer {
    this.flush();
    const b = this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts);
    this.parts = [];
    return b;
  }
  /** The bytes fn writes. */
  render(fn: (s: ByteSink) => void): Buffer {
    fn(this);
    return this.take();
  }
}
