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
import { ConfigError } from '../errors.js';
import { closeSync, existsSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, statfsSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Message } from './types.js';

const SEGMENT_BYTES = 4 << 20;
const HEADER = 4 + 1 + 8 + 2;
const NAME = /^spool-(\d{12})\.bin$/;
/** The first segment number of an empty spool (room below it for head segments). */
const FIRST_SEQ = 1_000_000;

interface Segment {
  readonly seq: number;
  readonly bytes: number;
  /** Messages in it when this process wrote it; null for an earlier run's segment (unknown until read). */
  readonly count: number | null;
}

export class SpoolError extends ConfigError {}

export class Spool {
  private segments: Segment[] = [];
  private writeFd: number | null = null;
  private writeSeq = 0;
  private writeBytes = 0;
  private writeCount = 0;
  /** Bytes on disk. */
  bytes = 0;
  /** Messages this process wrote to the segment the last shift() read; null for an earlier run's segment. */
  lastShiftWritten: number | null = null;
  /** Set when a loaded segment had a damaged tail (for the log); cleared by the reader. */
  damage: string | null = null;
  /** Why the filesystem refused the last write (ENOSPC, EDQUOT, with the free space), or null. */
  diskFull: string | null = null;

  constructor(
    readonly dir: string,
    readonly maxBytes: number,
  ) {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      throw new SpoolError(`buffer.dir '${dir}': cannot create (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    }
    for (const f of readdirSync(dir).sort()) {
      const m = NAME.exec(f);
      if (!m) continue;
      const bytes = statSync(join(dir, f)).size;
      this.segments.push({ seq: Number(m[1]), bytes, count: null });
      this.bytes += bytes;
    }
    this.writeSeq = this.segments.length ? this.segments[this.segments.length - 1]!.seq + 1 : FIRST_SEQ;
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
    if (this.writeFd === null || this.writeBytes >= SEGMENT_BYTES) this.rollWrite();
    const n = this.write(this.writeFd!, this.writeBytes, m);
    if (n === 0) return false;
    this.writeBytes += n;
    this.writeCount++;
    this.bytes += n;
    return true;
  }

  /**
   * Write messages as a new segment at the head, read back before everything already on disk (what
   * was in memory at shutdown is older than the spooled tail), whatever the size cap. Returns how
   * many were kept: it stops at a full filesystem, and those not kept are the caller's to count.
   */
  prepend(ms: readonly Message[]): number {
    if (ms.length === 0) return 0;
    this.sealWrite();
    const seq = (this.segments[0]?.seq ?? this.writeSeq) - 1;
    if (seq < 0) {
      // an old spool numbered from 0: keep them at the tail rather than lose them
      let kept = 0;
      for (const m of ms) {
        if (!this.append(m)) break;
        kept++;
      }
      return kept;
    }
    const fd = openSync(this.path(seq), 'a', 0o600);
    let bytes = 0;
    let kept = 0;
    try {
      for (const m of ms) {
        const n = this.write(fd, bytes, m);
        if (n === 0) break;
        bytes += n;
        this.bytes += n;
        kept++;
      }
    } finally {
      closeSync(fd);
    }
    if (kept === 0) unlinkSync(this.path(seq));
    else this.segments.unshift({ seq, bytes, count: kept });
    return kept;
  }

  /** One whole record at `at` of fd: its length, or 0 when the filesystem refused it (nothing is left of it). */
  private write(fd: number, at: number, m: Message): number {
    const id = Buffer.from(m.id ?? '', 'utf8');
    const rec = Buffer.allocUnsafe(HEADER + id.length + m.body.length);
    rec.writeUInt32LE(m.body.length, 0);
    rec.writeUInt8(m.priority & 0xff, 4);
    rec.writeDoubleLE(m.ts, 5);
    rec.writeUInt16LE(id.length, 13);
    id.copy(rec, HEADER);
    m.body.copy(rec, HEADER + id.length);
    try {
      for (let off = 0; off < rec.length; ) off += writeSync(fd, rec, off, rec.length - off);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOSPC' && code !== 'EDQUOT') throw e;
      // never leave a torn record: cut the segment back to its last whole one
      try {
        ftruncateSync(fd, at);
      } catch {
        // the segment is then read back up to its last whole record (shift() skips a torn tail)
      }
      this.diskFull = `${code}: ${this.freeBytes()} bytes free on the filesystem of ${this.dir}`;
      return 0;
    }
    return rec.length;
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
    this.lastShiftWritten = seg.count;
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
    this.writeCount = 0;
  }

  /** The segment being written becomes readable. */
  private sealWrite(): void {
    if (this.writeFd === null) return;
    closeSync(this.writeFd);
    this.writeFd = null;
    if (this.writeBytes > 0) this.segments.push({ seq: this.writeSeq, bytes: this.writeBytes, count: this.writeCount });
    this.writeSeq++;
    this.writeBytes = 0;
    this.writeCount = 0;
  }
}
