/**
 * SysFlow reader for Avro object container files.
 *
 * Blocks are the unit of delivery: nextBlock() returns the records of one block. Damage is never
 * fatal once the header is read: a corrupt block (bad sync marker, bad deflate data, undecodable
 * datum) is reported, counted and skipped up to the next sync marker; a truncated file delivers every
 * record whose bytes are complete, then reports where it ended.
 */
import { inflateRawSync, constants as zc } from 'node:zlib';
import { DecodeError, InputError } from './errors.js';
import { Tap } from './tap.js';
import { compileSysFlowSchema, type BranchInfo } from './compile.js';
import { type ByteSource, BufferSource, FileSource } from './source.js';
import { inflater, type Ticket } from './inflater.js';
import type { SysFlowRecord } from '../sysflow/types.js';
import type avro from 'avsc';

const MAGIC = Buffer.from([0x4f, 0x62, 0x6a, 0x01]);
const SYNC_SIZE = 16;
const MAX_HEADER = 64 << 20;
const MAX_BLOCK = 256 << 20;
const MAX_BLOCK_RECORDS = 50_000_000;

export type Codec = 'null' | 'deflate';

export interface OcfHeader {
  codec: Codec;
  /** The writer schema JSON, as embedded. */
  schema: unknown;
  sync: Buffer;
  metadata: Map<string, Buffer>;
  branches: BranchInfo[];
  avscType: avro.Type;
  /** Byte size of the header, sync marker included. */
  size: number;
}

export interface ReadWarning {
  file: string;
  /** Byte offset in the file where the problem starts. */
  offset: number;
  kind: 'corrupt' | 'truncated' | 'trailing';
  message: string;
}

export interface ReadStats {
  blocks: number;
  records: number;
  corruptBlocks: number;
  /** Records declared by damaged blocks that could not be delivered. */
  lostRecords: number;
  skippedBytes: number;
  unknownRecords: number;
  truncated: boolean;
}

export interface OcfBlock {
  /** File offset of the block. */
  offset: number;
  records: SysFlowRecord[];
}

export interface ReaderOptions {
  onWarning?: (w: ReadWarning) => void;
  /**
   * Where deflate blocks are inflated: `worker` ahead of decoding, on the inflate worker (a second
   * core, core/avro/inflater.ts), `here` on the calling thread when their turn comes, `auto`
   * (default) on the worker for inputs of WORKER_MIN_BYTES or more.
   */
  inflate?: 'auto' | 'worker' | 'here';
}

/**
 * Blocks located and inflating ahead of the one being decoded (inflate on the worker), refilled
 * when half are used: the worker then gets blocks in bursts and is woken once per burst.
 */
const READ_AHEAD = 8;
/** Smaller inputs are inflated on the calling thread: starting the worker would cost more. */
const WORKER_MIN_BYTES = 4 << 20;

/** At most half the bytes of a 16-byte marker differ (random data: probability < 1e-15). */
function nearSync(marker: Buffer, sync: Buffer): boolean {
  let diff = 0;
  for (let i = 0; i < SYNC_SIZE; i++) if (marker[i] !== sync[i]) diff++;
  return diff <= SYNC_SIZE / 2;
}

type Located = { kind: 'block'; start: number; count: number; raw: Buffer; dataEnd: number } | { kind: 'partial'; start: number; dataStart: number; count: number; bytes: number };

/** What locating a block added to the statistics (damage skipped on the way). */
type LocateStats = Pick<ReadStats, 'corruptBlocks' | 'lostRecords' | 'skippedBytes' | 'truncated'>;

/**
 * A block located ahead (null: the end of the input), with what locating it reported, held back so
 * that warnings come in the order nextBlock gives them, and what it added to the statistics.
 */
interface Ahead {
  readonly l: Located | null;
  readonly ticket: Ticket | null;
  readonly warnings: readonly ReadWarning[];
  readonly added: LocateStats;
}

export class SysFlowFileReader {
  readonly header: OcfHeader;
  readonly stats: ReadStats = { blocks: 0, records: 0, corruptBlocks: 0, lostRecords: 0, skippedBytes: 0, unknownRecords: 0, truncated: false };
  private pos: number;
  private done = false;
  private readonly decode: (t: Tap) => SysFlowRecord | null;
  private readonly tap = new Tap(Buffer.alloc(0));
  readonly warnings: ReadWarning[] = [];
  private readonly ahead: Ahead[] = [];
  /** While reading ahead: warnings held back (see Ahead). */
  private held: ReadWarning[] | null = null;
  /** Inflating on the worker (ReaderOptions.inflate). */
  private readonly inflatesAhead: boolean;

  /** Open a file; throws InputError (one line naming the file) when it is not a usable SysFlow file. */
  static open(path: string, opts: ReaderOptions = {}): SysFlowFileReader {
    let src: ByteSource;
    try {
      src = new FileSource(path);
    } catch (e) {
      throw new InputError(`${path}: cannot open: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    try {
      return new SysFlowFileReader(path, src, opts);
    } catch (e) {
      src.close();
      if (e instanceof InputError) throw e;
      // A read error (e.g. EISDIR: a directory opens but cannot be read) is unusable input too.
      throw new InputError(`${path}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }

  static fromBuffer(name: string, buf: Buffer, opts: ReaderOptions = {}): SysFlowFileReader {
    return new SysFlowFileReader(name, new BufferSource(buf), opts);
  }

  private constructor(
    readonly file: string,
    private readonly src: ByteSource,
    private readonly opts: ReaderOptions,
  ) {
    const { header, decode } = this.readHeader();
    this.header = header;
    this.decode = decode;
    this.pos = header.size;
    const where = opts.inflate ?? 'auto';
    this.inflatesAhead = header.codec === 'deflate' && (where === 'worker' || (where === 'auto' && src.size >= WORKER_MIN_BYTES));
  }

  get size(): number {
    return this.src.size;
  }

  /** Current byte offset (start of the next block). */
  get offset(): number {
    return this.pos;
  }

  private fail(msg: string): never {
    // One line: parser messages can quote the damaged input, line breaks and control bytes included.
    throw new InputError(`${this.file}: ${msg.replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, ' ')}`);
  }

  private readHeader(): { header: OcfHeader; decode: (t: Tap) => SysFlowRecord | null } {
    const size = this.src.size;
    if (size === 0) this.fail('empty file, not an Avro object container file');
    const head = this.src.view(0, Math.min(size, MAX_HEADER));
    if (head.length < 4 || !head.subarray(0, 4).equals(MAGIC)) this.fail('not an Avro object container file (bad magic bytes)');
    const t = new Tap(head, 4, head.length);
    const metadata = new Map<string, Buffer>();
    try {
      let n: number;
      while ((n = t.readBlockCount(2)) !== 0) {
        for (let i = 0; i < n; i++) {
          const k = t.readString();
          metadata.set(k, t.readBytes());
        }
      }
      if (t.pos + SYNC_SIZE > head.length) throw new DecodeError('sync marker missing', t.pos);
    } catch (e) {
      if (e instanceof DecodeError) this.fail(`truncated or corrupt Avro header at byte ${e.pos} (${e.message})`);
      throw e;
    }
    const sync = Buffer.from(head.subarray(t.pos, t.pos + SYNC_SIZE));
    const codecName = metadata.get('avro.codec')?.toString('utf8') ?? 'null';
    if (codecName !== 'null' && codecName !== 'deflate') this.fail(`unsupported Avro codec '${codecName}' (supported: null, deflate)`);
    const schemaBytes = metadata.get('avro.schema');
    if (!schemaBytes) this.fail('Avro header has no avro.schema');
    let schema: unknown;
    try {
      schema = JSON.parse(schemaBytes.toString('utf8'));
    } catch (e) {
      this.fail(`avro.schema is not valid JSON (${(e as Error).message})`);
    }
    let compiled: ReturnType<typeof compileSysFlowSchema>;
    try {
      compiled = compileSysFlowSchema(schema);
    } catch (e) {
      this.fail(`unusable writer schema: ${(e as Error).message}`);
    }
    const header = { codec: codecName, schema, sync, metadata, branches: compiled.branches, avscType: compiled.avscType, size: t.pos + SYNC_SIZE } as OcfHeader;
    return { header, decode: compiled.decode };
  }

  private warn(kind: ReadWarning['kind'], offset: number, message: string): void {
    const w = { file: this.file, offset, kind, message };
    if (this.held !== null) this.held.push(w);
    else this.report(w);
  }

  private report(w: ReadWarning): void {
    this.warnings.push(w);
    this.opts.onWarning?.(w);
  }

  /**
   * Is `marker`, found at `at` where the header of the block at `start` puts its sync marker, that
   * block's own marker, damaged? Yes if it still matches in most bytes; or if there is no intact marker
   * between `start` and `at` (else the header is what is damaged) and the block after `at` ends exactly
   * on the next intact marker.
   */
  private isOwnMarker(start: number, marker: Buffer, at: number): boolean {
    if (nearSync(marker, this.header.sync)) return true;
    const next = at + SYNC_SIZE;
    const nextSync = this.findSync(start + 1);
    if (nextSync < next) return false;
    const head = this.src.view(next, 20);
    const t = new Tap(head, 0, head.length);
    let bytes: number;
    try {
      if (t.readLong() < 0) return false;
      bytes = t.readLong();
    } catch {
      return false;
    }
    if (bytes < 0 || bytes > MAX_BLOCK) return false;
    return next + t.pos + bytes === nextSync;
  }

  /** Offset of the next sync marker at or after `from`, or -1. */
  private findSync(from: number): number {
    const sync = this.header.sync;
    const step = 1 << 20;
    for (let p = from; p < this.src.size; p += step - SYNC_SIZE) {
      const v = this.src.view(p, step);
      const i = v.indexOf(sync);
      if (i >= 0) return p + i;
      if (v.length < step) break;
    }
    return -1;
  }

  /**
   * Skip a damaged block starting at `start`; resume after the next sync marker (or stop).
   * `ownMarker` ≥ 0: the block's own (damaged) sync marker is at that offset; resume after it.
   */
  /** Count and report a damaged block; unless `move` is false, continue reading after it. */
  private skipCorrupt(start: number, declared: number, reason: string, kept: number, ownMarker = -1, move = true): void {
    this.stats.corruptBlocks++;
    const next = ownMarker >= 0 ? ownMarker : this.findSync(start + 1);
    const lost = Math.max(0, declared - kept);
    this.stats.lostRecords += lost;
    const where = `corrupt block at byte ${start} (${reason})`;
    const keptMsg = kept > 0 ? `; kept ${kept} records decoded before the damage` : '';
    if (next < 0) {
      this.stats.skippedBytes += this.src.size - start;
      this.warn('corrupt', start, `${where}${keptMsg}; no later sync marker, ${this.src.size - start} bytes skipped to end of file`);
      if (move) this.done = true;
      return;
    }
    this.stats.skippedBytes += next + SYNC_SIZE - start;
    const marker = ownMarker >= 0 ? 'its damaged sync marker' : 'the next sync marker';
    this.warn('corrupt', start, `${where}${keptMsg}; skipped ${next + SYNC_SIZE - start} bytes to ${marker} at byte ${next}`);
    if (move) this.pos = next + SYNC_SIZE;
  }

  /**
   * Decode up to `count` datums from data. Returns the records and, if decoding stopped early, the
   * error. Unknown union branches are dropped and counted.
   */
  private decodeData(data: Buffer, count: number, out: SysFlowRecord[]): DecodeError | null {
    const t = this.tap;
    t.reset(data, 0, data.length);
    const decode = this.decode;
    for (let i = 0; i < count; i++) {
      let rec: SysFlowRecord | null;
      try {
        rec = decode(t);
      } catch (e) {
        if (e instanceof DecodeError) return new DecodeError(`record ${i + 1} of ${count}: ${e.message}`, e.pos);
        return new DecodeError(`record ${i + 1} of ${count}: ${(e as Error).message}`, t.pos);
      }
      if (rec === null) this.stats.unknownRecords++;
      else out.push(rec);
    }
    if (t.pos !== data.length) return new DecodeError(`${data.length - t.pos} undecoded bytes after ${count} records`, t.pos);
    return null;
  }

  /**
   * Find the next intact block from `this.pos`, skipping damage (with warnings), and move past it.
   * The block's bytes are a view of the source, valid until its next read.
   */
  private locate(): Located | null {
    while (!this.done) {
      const start = this.pos;
      const size = this.src.size;
      if (start >= size) {
        this.done = true;
        return null;
      }
      const head = this.src.view(start, 20);
      const t = new Tap(head, 0, head.length);
      let count: number;
      let bytes: number;
      try {
        count = t.readLong();
        bytes = t.readLong();
      } catch {
        if (start + head.length >= size && head.length < 20) {
          this.truncated(start, `end of file inside a block header (${size - start} bytes left)`);
          return null;
        }
        this.skipCorrupt(start, 0, 'unreadable block header', 0);
        continue;
      }
      if (count < 0 || count > MAX_BLOCK_RECORDS || bytes < 0 || bytes > MAX_BLOCK) {
        this.skipCorrupt(start, 0, `implausible block header: ${count} records in ${bytes} bytes`, 0);
        continue;
      }
      const dataStart = start + t.pos;
      const dataEnd = dataStart + bytes;
      if (dataEnd + SYNC_SIZE > size) {
        // Either the file is truncated or the size field is damaged: a later sync marker tells.
        if (this.findSync(start + 1) >= 0) {
          this.skipCorrupt(start, count, `block size ${bytes} runs past the end of the file`, 0);
          continue;
        }
        this.done = true;
        return { kind: 'partial', start, dataStart, count, bytes };
      }
      const view = this.src.view(dataStart, bytes + SYNC_SIZE);
      const marker = view.subarray(bytes);
      if (!marker.equals(this.header.sync)) {
        // If the marker at the declared place is this block's own, damaged, skip this block only:
        // searching for the next marker would land at the end of the following, intact block.
        this.skipCorrupt(start, count, 'sync marker mismatch', 0, this.isOwnMarker(start, marker, dataEnd) ? dataEnd : -1);
        continue;
      }
      this.pos = dataEnd + SYNC_SIZE;
      const raw = view.subarray(0, bytes);
      return { kind: 'block', start, count, raw, dataEnd };
    }
    return null;
  }

  /** Decode an inflated block; null when it held no usable record. */
  private deliver(start: number, count: number, data: Buffer): OcfBlock | null {
    const records: SysFlowRecord[] = [];
    const err = this.decodeData(data, count, records);
    this.stats.blocks++;
    this.stats.records += records.length;
    if (err) {
      this.stats.corruptBlocks++;
      const lost = count - records.length;
      this.stats.lostRecords += Math.max(0, lost);
      this.warn('corrupt', start, `corrupt block at byte ${start}: ${err.message}; kept ${records.length} of ${count} records`);
    }
    return records.length === 0 ? null : { offset: start, records };
  }

  /** The next block's records, or null at end of input. */
  nextBlock(): OcfBlock | null {
    if (this.inflatesAhead) return this.nextBlockAhead();
    for (;;) {
      const l = this.locate();
      if (l === null) return null;
      if (l.kind === 'partial') return this.partialBlock(l.start, l.dataStart, l.count, l.bytes);
      let data = l.raw;
      if (this.header.codec === 'deflate') {
        try {
          data = inflateRawSync(l.raw);
        } catch (e) {
          this.skipCorrupt(l.start, l.count, `deflate data: ${(e as Error).message}`, 0);
          continue;
        }
      }
      const b = this.deliver(l.start, l.count, data);
      if (b) return b;
    }
  }

  /**
   * nextBlock() with inflating on the worker: the next blocks are located ahead and inflate on a
   * second core while this one is decoded. Same blocks, records, warnings and statistics.
   */
  private nextBlockAhead(): OcfBlock | null {
    const inf = inflater();
    for (;;) {
      this.readAhead();
      const next = this.ahead.shift()!;
      for (const w of next.warnings) this.report(w);
      const l = next.l;
      if (l === null) return null;
      if (l.kind === 'partial') return this.partialBlock(l.start, l.dataStart, l.count, l.bytes);
      const ticket = next.ticket!;
      try {
        const r = inf.take(ticket);
        if (r.error === undefined) {
          const b = this.deliver(l.start, l.count, r.data);
          if (b) return b;
          continue;
        }
        const reason = `deflate data: ${r.error}`;
        // nextBlock resumes at the next sync marker, normally this block's own: where reading ahead
        // went on from. Otherwise (the marker's pattern inside the data) it reads on from there:
        // what was read ahead is undone (statistics and held warnings) and read again.
        if (this.findSync(l.start + 1) === l.dataEnd) {
          this.skipCorrupt(l.start, l.count, reason, 0, -1, false);
        } else {
          for (const a of this.ahead) {
            this.stats.corruptBlocks -= a.added.corruptBlocks;
            this.stats.lostRecords -= a.added.lostRecords;
            this.stats.skippedBytes -= a.added.skippedBytes;
            if (a.added.truncated) this.stats.truncated = false;
          }
          this.dropAhead();
          this.done = false;
          this.skipCorrupt(l.start, l.count, reason, 0);
        }
      } finally {
        inf.release(ticket);
      }
    }
  }

  /** Forget what was read ahead, giving its slots back (once the worker is done with them). */
  private dropAhead(): void {
    const inf = inflater();
    for (const a of this.ahead) {
      if (a.ticket === null) continue;
      inf.take(a.ticket);
      inf.release(a.ticket);
    }
    this.ahead.length = 0;
  }

  /** Locate blocks until READ_AHEAD are queued or the input ends, handing each to the inflater. */
  private readAhead(): void {
    if (this.ahead.length > READ_AHEAD / 2) return;
    const inf = inflater();
    while (this.ahead.length < READ_AHEAD && (this.ahead.length === 0 || this.ahead[this.ahead.length - 1]!.l !== null)) {
      const { corruptBlocks, lostRecords, skippedBytes, truncated } = this.stats;
      const held: ReadWarning[] = (this.held = []);
      let l: Located | null;
      try {
        l = this.locate();
      } finally {
        this.held = null;
      }
      const ticket = l !== null && l.kind === 'block' ? inf.submit(l.raw) : null;
      const added = {
        corruptBlocks: this.stats.corruptBlocks - corruptBlocks,
        lostRecords: this.stats.lostRecords - lostRecords,
        skippedBytes: this.stats.skippedBytes - skippedBytes,
        truncated: this.stats.truncated && !truncated,
      };
      this.ahead.push({ l, ticket, warnings: held, added });
    }
  }

  private truncated(offset: number, what: string): void {
    this.stats.truncated = true;
    this.done = true;
    this.warn('truncated', offset, `file truncated at byte ${this.src.size}: ${what}`);
  }

  /** The last block is cut short: deliver every record whose bytes are all present. */
  private partialBlock(start: number, dataStart: number, count: number, bytes: number): OcfBlock | null {
    const avail = Math.max(0, this.src.size - dataStart);
    const raw = this.src.view(dataStart, avail);
    let data: Buffer;
    if (this.header.codec === 'deflate') {
      try {
        data = inflateRawSync(raw.subarray(0, Math.min(avail, bytes)), { finishFlush: zc.Z_SYNC_FLUSH });
      } catch {
        data = Buffer.alloc(0);
      }
    } else {
      data = raw.subarray(0, Math.min(avail, bytes));
    }
    const records: SysFlowRecord[] = [];
    this.decodeData(data, count, records);
    this.stats.blocks++;
    this.stats.records += records.length;
    this.stats.lostRecords += count - records.length;
    this.truncated(start, `block at byte ${start} declares ${count} records in ${bytes} bytes, ${avail} present; ${records.length} complete records kept`);
    return records.length ? { offset: start, records } : null;
  }

  /** All remaining records (convenience for small inputs and tests). */
  readAll(): SysFlowRecord[] {
    const out: SysFlowRecord[] = [];
    for (let b = this.nextBlock(); b; b = this.nextBlock()) for (const r of b.records) out.push(r);
    return out;
  }

  close(): void {
    this.dropAhead();
    this.done = true;
    this.src.close();
  }
}
