import { DecodeError } from './errors.js';

const TWO27 = 134217728;
const TWO47_MOD_1E9 = 488355328; // 2^47 mod 1e9
const TWO27_MOD_1E9 = 134217728; // 2^27 mod 1e9 (2^27 < 1e9)

/** SysFlow file OIDs: SHA-1 digests, fixed(20). */
const FOID_SIZE = 20;
const FOID_SLOTS = 1 << 14;
const foidBytes = new Uint8Array(FOID_SLOTS * FOID_SIZE);
const foidText: (string | undefined)[] = new Array<string | undefined>(FOID_SLOTS).fill(undefined);

/**
 * A FOID's hex text, shared by every record naming the same file: each file flow carries one, and
 * a fresh 40-character string per record would be allocated, then hashed again by every map it keys.
 * A direct-mapped table (digest bytes are uniform, so a few of them pick the slot) remembers recent
 * ones; a slot is reused on collision, so the table stays bounded and a miss just costs the slice.
 */
function internFoid(buf: Utf8Buffer, start: number): string {
  const slot = ((buf[start]! | (buf[start + 1]! << 8)) ^ (buf[start + 18]! << 3) ^ (buf[start + 19]! << 6)) & (FOID_SLOTS - 1);
  const base = slot * FOID_SIZE;
  const text = foidText[slot];
  if (text !== undefined) {
    let i = 0;
    while (i < FOID_SIZE && foidBytes[base + i] === buf[start + i]) i++;
    if (i === FOID_SIZE) return text;
  }
  const s = buf.hexSlice(start, start + FOID_SIZE);
  for (let i = 0; i < FOID_SIZE; i++) foidBytes[base + i] = buf[start + i]!;
  foidText[slot] = s;
  return s;
}

type Utf8Buffer = Buffer & { utf8Slice(start: number, end: number): string; hexSlice(start: number, end: number): string };

/**
 * Cursor over an Avro binary buffer. Reads never go past `end`: a read that would is a DecodeError,
 * so a corrupt datum cannot allocate huge strings or spin.
 */
export class Tap {
  buf: Utf8Buffer;
  pos: number;
  end: number;
  /** Exact value mod 1e9 of the last readWide() (see core/util/i64.ts). */
  ns = 0;

  constructor(buf: Buffer, pos = 0, end = buf.length) {
    this.buf = buf as Utf8Buffer;
    this.pos = pos;
    this.end = end;
  }

  reset(buf: Buffer, pos: number, end: number): void {
    this.buf = buf as Utf8Buffer;
    this.pos = pos;
    this.end = end;
  }

  private overrun(what: string): never {
    throw new DecodeError(`${what} runs past the end of the data`, this.pos);
  }

  /** Zig-zag varint; exact for |v| < 2^53 (Avro int, and every long that is not a timestamp). */
  readLong(): number {
    const buf = this.buf;
    let pos = this.pos;
    if (pos >= this.end) this.overrun('integer');
    let b = buf[pos++]!;
    let n = b & 0x7f;
    if (b < 0x80) {
      this.pos = pos;
      return (n >>> 1) ^ -(n & 1);
    }
    let shift = 7;
    do {
      if (pos >= this.end) {
        this.pos = pos;
        this.overrun('integer');
      }
      b = buf[pos++]!;
      n |= (b & 0x7f) << shift;
      shift += 7;
    } while (b >= 0x80 && shift < 28);
    if (b < 0x80) {
      this.pos = pos;
      return (n >>> 1) ^ -(n & 1);
    }
    // Beyond 28 bits: continue in floating point on raw/2, with the sign taken from bit 0 (raw itself
    // can exceed 2^53 when |v| < 2^53, and its low bit would be rounded away). Exact up to |v| = 2^53.
    const negative = (n & 1) === 1;
    let f = n >>> 1;
    let mul = 134217728; // 2^27: raw/2 = (n >>> 1) + Σ (b & 0x7f)·2^(27+7j)
    let count = 4;
    do {
      if (pos >= this.end) {
        this.pos = pos;
        this.overrun('integer');
      }
      if (++count > 10) {
        this.pos = pos;
        throw new DecodeError('varint longer than 10 bytes', pos);
      }
      b = buf[pos++]!;
      f += (b & 0x7f) * mul;
      mul *= 128;
    } while (b >= 0x80);
    this.pos = pos;
    return negative ? -f - 1 : f;
  }

  /**
   * A long that may exceed 2^53 (timestamps, OID createTS): returns the nearest double and leaves
   * the exact value mod 1e9 in `this.ns`.
   */
  readWide(): number {
    const buf = this.buf;
    let pos = this.pos;
    // Timestamps take 9 bytes: with 10 in the buffer, read unrolled without bounds checks; the careful
    // path handles the end of the data and malformed varints (and starts over from this.pos).
    if (this.end - pos < 10) return this.readWideCareful();
    let h = 0;
    let hh = 0;
    let b = buf[pos++]!;
    let lo = b & 0x7f;
    if (b >= 0x80) {
      b = buf[pos++]!;
      lo |= (b & 0x7f) << 7;
      if (b >= 0x80) {
        b = buf[pos++]!;
        lo |= (b & 0x7f) << 14;
        if (b >= 0x80) {
          b = buf[pos++]!;
          lo |= (b & 0x7f) << 21;
          if (b >= 0x80) {
            b = buf[pos++]!;
            h = b & 0x7f;
            if (b >= 0x80) {
              b = buf[pos++]!;
              h |= (b & 0x7f) << 7;
              if (b >= 0x80) {
                b = buf[pos++]!;
                h |= (b & 0x7f) << 14;
                if (b >= 0x80) {
                  b = buf[pos++]!;
                  h |= (b & 0x7f) << 21;
                  if (b >= 0x80) {
                    b = buf[pos++]!;
                    hh = b & 0x7f;
                    if (b >= 0x80) {
                      b = buf[pos++]!;
                      hh |= (b & 0x7f) << 7;
                      if (b >= 0x80) return this.readWideCareful();
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
    this.pos = pos;
    // raw = lo + hi·2^28 with hi = h + hh·2^28; split hi at 2^20 for the exact residue
    return this.wide(lo, (h >>> 20) + hh * 256, h & 0xfffff);
  }

  /** readWide with bounds checks at every byte. */
  private readWideCareful(): number {
    const buf = this.buf;
    let pos = this.pos;
    let b = 0;
    let lo = 0;
    let shift = 0;
    do {
      if (pos >= this.end) {
        this.pos = pos;
        this.overrun('integer');
      }
      b = buf[pos++]!;
      lo |= (b & 0x7f) << shift;
      shift += 7;
    } while (b >= 0x80 && shift < 28);
    let hi = 0;
    if (b >= 0x80) {
      let mul = 1;
      let count = 4;
      do {
        if (pos >= this.end) {
          this.pos = pos;
          this.overrun('integer');
        }
        if (++count > 10) {
          this.pos = pos;
          throw new DecodeError('varint longer than 10 bytes', pos);
        }
        b = buf[pos++]!;
        hi += (b & 0x7f) * mul;
        mul *= 128;
      } while (b >= 0x80);
    }
    this.pos = pos;
    const h1 = Math.floor(hi / 1048576);
    return this.wide(lo, h1, hi - h1 * 1048576);
  }

  /** The value of raw = lo + (h1·2^20 + h0)·2^28 after zig-zag: nearest double, exact residue in `ns`. */
  private wide(lo: number, h1: number, h0: number): number {
    // zig-zag: |v| = hi·2^27 + m
    const negative = (lo & 1) === 1;
    const m = negative ? (lo + 1) / 2 : lo >>> 1;
    // x < 2^53, so floor division is exact enough; one correction step settles any rounding.
    const x = h1 * TWO47_MOD_1E9 + h0 * TWO27_MOD_1E9 + m;
    let r = x - Math.floor(x / 1e9) * 1e9;
    if (r < 0) r += 1e9;
    else if (r >= 1e9) r -= 1e9;
    const mag = (h1 * 1048576 + h0) * TWO27 + m;
    if (negative) {
      this.ns = r === 0 ? 0 : 1e9 - r;
      return -mag;
    }
    this.ns = r;
    return mag;
  }

  readBoolean(): boolean {
    if (this.pos >= this.end) this.overrun('boolean');
    const b = this.buf[this.pos++]!;
    if (b > 1) throw new DecodeError(`invalid boolean byte ${b}`, this.pos - 1);
    return b === 1;
  }

  readString(): string {
    const len = this.readLong();
    const start = this.pos;
    const end = start + len;
    if (len < 0) throw new DecodeError(`negative string length ${len}`, start);
    if (end > this.end) this.overrun(`a ${len}-byte string`);
    this.pos = end;
    const buf = this.buf;
    if (len < 16) {
      let s = '';
      for (let i = start; i < end; i++) {
        const c = buf[i]!;
        if (c > 0x7f) return buf.utf8Slice(start, end);
        s += String.fromCharCode(c);
      }
      return s;
    }
    return buf.utf8Slice(start, end);
  }

  /** Avro `bytes` as a copy. */
  readBytes(): Buffer {
    const len = this.readLong();
    const start = this.pos;
    if (len < 0) throw new DecodeError(`negative bytes length ${len}`, start);
    if (start + len > this.end) this.overrun(`a ${len}-byte value`);
    this.pos = start + len;
    return Buffer.from(this.buf.subarray(start, start + len));
  }

  /** `fixed` as lowercase hex (FOIDs are map keys and print as hex). */
  readFixedHex(size: number): string {
    const start = this.pos;
    if (start + size > this.end) this.overrun(`fixed(${size})`);
    this.pos = start + size;
    if (size === FOID_SIZE) return internFoid(this.buf, start);
    return this.buf.hexSlice(start, start + size);
  }

  readFloat(): number {
    if (this.pos + 4 > this.end) this.overrun('float');
    const v = this.buf.readFloatLE(this.pos);
    this.pos += 4;
    return v;
  }

  readDouble(): number {
    if (this.pos + 8 > this.end) this.overrun('double');
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  /** Block count of an array/map; a negative count is followed by the block's byte size. */
  readBlockCount(minItemBytes: number): number {
    let n = this.readLong();
    if (n < 0) {
      n = -n;
      this.readLong();
    }
    if (minItemBytes > 0 && n * minItemBytes > this.end - this.pos) {
      throw new DecodeError(`block of ${n} items cannot fit in the remaining ${this.end - this.pos} bytes`, this.pos);
    }
    return n;
  }

  /** Union branch or enum index, range-checked. */
  readIndex(limit: number, what: string): number {
    const at = this.pos;
    const i = this.readLong();
    if (i < 0 || i >= limit || !Number.isInteger(i)) throw new DecodeError(`${what} index ${i} out of range 0..${limit - 1}`, at);
    return i;
  }
}
