/**
 * A disk spool: the overflow tail of an exporter's queue, in segment files under `buffer.dir`, so
 * messages outlive an outage longer than memory holds and a restart of the processor. Segments are
 * read back oldest first; a segment is removed when it is loaded (its messages are then in memory,
 * and re-spooled at shutdown if still undelivered).
 *
 * Segment format: records of [u32 LE body length][u8 priority][f64 LE ts][u16 LE id length][id][body].
 * A record is written whole or not at all: when the filesystem refuses a write (full, or over a
 * quota) the segment is cut back to its last whole record and the spool counts as full until a
 * segment is loaded back (which frees space), so a full disk behaves like a full spool.
 */
import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, statfsSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Message } from './types.js';

const SEGMENT_BYTES = 4 << 20;
const HEADER = 4 + 1 + 8 + 2;
const NAME = /^spool-(\d{12})\.bin$/;

export class SpoolError extends Error {}

export class Spool {
  private segments: { seq: number; bytes: number }[] = [];
  private writeFd: number | null = null;
  private writeSeq = 0;
  private writeBytes = 0;
  /** Bytes on disk. */
  bytes = 0;
  /** Messages appended by this process and not yet loaded back (earlier runs' are counted when loaded). */
  count = 0;
  /** Set when a loaded segment had a damaged tail (for the log); cleared by the reader. */
  damage: string | null = null;
  /** Why the filesystem refused the last write (ENOSPC, EDQUOT, with the free space), or null. */
  diskFull: string | null = null;

  constructor(readonly dir: string, readonly maxBytes: number) {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw new SpoolError(`buffer.dir '${dir}': cannot create (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    for (const f of readdirSync(dir).sort()) {
      const m = NAME.exec(f);
      if (!m) continue;
      const bytes = statSync(join(dir, f)).size;
      this.segments.push({ seq: Number(m[1]), bytes });
      this.bytes += bytes;
    }
    this.writeSeq = this.segments.length ? this.segments[this.segments.length - 1]!.seq + 1 : 1;
  }

  get empty(): boolean {
    return this.segments.length === 0 && this.writeBytes === 0;
  }

  /** Room for a message of this size (under the cap, and the filesystem not full)? */
  fits(m: Message): boolean {
    return this.diskFull === null && this.bytes + HEADER + Buffer.byteLength(m.id ?? '') + m.body.length <= this.maxBytes;
  }

  /** Append at the tail (the caller checked fits()). False when the filesystem is full: nothing was written. */
  append(m: Message): boolean {
    const id = Buffer.from(m.id ?? '', 'utf8');
    const rec = Buffer.allocUnsafe(HEADER + id.length + m.body.length);
    rec.writeUInt32LE(m.body.length, 0);
    rec.writeUInt8(m.priority & 0xff, 4);
    rec.writeDoubleLE(m.ts, 5);
    rec.writeUInt16LE(id.length, 13);
    id.copy(rec, HEADER);
    m.body.copy(rec, HEADER + id.length);
    try {
      if (this.writeFd === null || this.writeBytes >= SEGMENT_BYTES) this.rollWrite();
      for (let off = 0; off < rec.length; ) off += writeSync(this.writeFd!, rec, off, rec.length - off);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOSPC' && code !== 'EDQUOT') throw e;
      // never leave a torn record: cut the segment back to its last whole one
      if (this.writeFd !== null) {
        try {
          ftruncateSync(this.writeFd, this.writeBytes);
        } catch {
          // the segment is then read back up to its last whole record (shift() skips a torn tail)
        }
      }
      this.diskFull = `${code}: ${this.freeBytes()} bytes free on the filesystem of ${this.dir}`;
      return false;
    }
    this.writeBytes += rec.length;
    this.bytes += rec.length;
    this.count++;
    return true;
  }

  private freeBytes(): string {
    try {
      const st = statfsSync(this.dir);
      return String(st.bavail * st.bsize);
    } catch {
      return 'unknown';
    }
  }

  /** Remove and return the oldest segment's messages (empty when the spool is empty). */
  shift(): Message[] {
    if (this.segments.length === 0) {
      if (this.writeBytes === 0) return [];
      this.sealWrite();
    }
    const seg = this.segments.shift()!;
    const file = this.path(seg.seq);
    const data = existsSync(file) ? readFileSync(file) : Buffer.alloc(0);
    unlinkSync(file);
    this.bytes -= seg.bytes;
    this.diskFull = null; // space was freed: try writing again
    const out: Message[] = [];
    let p = 0;
    while (p + HEADER <= data.length) {
      const len = data.readUInt32LE(p);
      const idLen = data.readUInt16LE(p + 13);
      if (p + HEADER + idLen + len > data.length) break; // a torn tail (crash while writing): dropped, counted below
      const id = data.toString('utf8', p + HEADER, p + HEADER + idLen);
      out.push({ priority: data.readUInt8(p + 4), ts: data.readDoubleLE(p + 5), ...(idLen ? { id } : {}), body: Buffer.from(data.subarray(p + HEADER + idLen, p + HEADER + idLen + len)) });
      p += HEADER + idLen + len;
    }
    if (p !== data.length) this.damage = `${file}: ${data.length - p} bytes of a damaged record at the end were skipped (${out.length} messages recovered)`;
    this.count = Math.max(0, this.count - out.length);
    return out;
  }

  close(): void {
    if (this.writeFd !== null) closeSync(this.writeFd);
    this.writeFd = null;
  }

  private path(seq: number): string {
    return join(this.dir, `spool-${String(seq).padStart(12, '0')}.bin`);
  }

  private rollWrite(): void {
    this.sealWrite();
    this.writeFd = openSync(this.path(this.writeSeq), 'a', 0o600);
    this.writeBytes = 0;
  }

  /** The segment being written becomes readable. */
  private sealWrite(): void {
    if (this.writeFd === null) return;
    closeSync(this.writeFd);
    this.writeFd = null;
    if (this.writeBytes > 0) this.segments.push({ seq: this.writeSeq, bytes: this.writeBytes });
    this.writeSeq++;
    this.writeBytes = 0;
  }
}
