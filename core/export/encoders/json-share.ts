/**
 * Lines a JSON encoder wrote for the current pipeline batch, kept for one other stage that needs
 * the same records' JSON: the subscriptions stage placed after an exporter in the same fan-out
 * gets each line for a memcpy instead of encoding it again (about 4 µs a record).
 *
 * It relies on what the pipeline guarantees: a fan-out hands the same batch (the same record
 * objects, in the same order) to each branch, one after the other; what may change in a record
 * after that (a later policy engine adding rules or tags) is checked, and a record whose rules or
 * tags grew since its line was kept is encoded again. The consumer looks lines up in batch order and ends each
 * batch; a lookup that misses (the exporter runs after it, or sees other records) makes the rest of
 * that batch encode on its own, and after MISSES_TO_STOP such batches in a row sharing stops.
 */
import type { FlatRecord } from '../../flatten/flatrecord.js';
import type { ByteSink } from '../../util/bytes.js';
import { IntList } from '../../util/intlist.js';

/** A line larger than this, or a batch whose lines pass it, is not kept. */
const MAX_BYTES = 16 << 20;
const MISSES_TO_STOP = 8;

export class LineShare {
  /** Whether encoders keep lines for the next batch (the consumer has use for them; sharing not stopped). */
  wanted = false;
  /**
   * The consumer's guess whether it will ask for r's line; lines it will not ask for are not kept.
   * Keeping every line would copy the exporter's whole output again and push its working set out
   * of the cache; a wrong guess costs only an encode (the lookup misses).
   */
  wants: (r: FlatRecord) => boolean = () => true;
  /** The encoder whose lines this batch holds (the first to write after a reset), null before. */
  private owner: object | null = null;
  private recs: (FlatRecord | undefined)[] = [];
  private n = 0;
  /** Per kept line: start, end, and the record's rule and tag counts then (-1: none). */
  private readonly ends = new IntList(4096);
  private buf = Buffer.allocUnsafeSlow(1 << 20);
  private used = 0;
  private cursor = 0;
  /** A lookup of this batch missed: the rest is not looked up. */
  private stale = false;
  private hits = 0;
  private missedBatches = 0;

  constructor(
    /** The encoder settings whose output this holds (the JSON schema version). */
    readonly key: string,
    /** The consumer's own encoder, whose lines are never kept. */
    readonly consumer: object,
  ) {}

  /** Whether `encoder` (whose output depends on `key`) keeps its lines of this batch here; the first one to ask owns the batch. */
  claim(encoder: object, key: string): boolean {
    if (!this.wanted || key !== this.key || encoder === this.consumer || (this.owner !== null && this.owner !== encoder)) return false;
    this.owner = encoder;
    return true;
  }

  /**
   * Keep what `out` received since position `from` (flush count `flushes`) as r's line. A line that
   * cannot be kept (it left the buffer part by part, or the batch is too large) is noted as missing,
   * so the records after it still line up.
   */
  put(r: FlatRecord, out: ByteSink, from: number, flushes: number): void {
    if (!this.wants(r)) return;
    const len = out.pos - from;
    const kept = out.flushes === flushes && this.used + len <= MAX_BYTES;
    if (kept && this.used + len > this.buf.length) {
      const bigger = Buffer.allocUnsafeSlow(Math.min(MAX_BYTES, Math.max(2 * this.buf.length, this.used + len)));
      this.buf.copy(bigger, 0, 0, this.used);
      this.buf = bigger;
    }
    const e = this.ends;
    if (kept) {
      out.copyOut(from, this.buf, this.used);
      e.push(this.used);
      this.used += len;
      e.push(this.used);
    } else {
      e.push(-1);
      e.push(-1);
    }
    e.push(r.rules === null ? -1 : r.rules.length);
    e.push(r.tags === null ? -1 : r.tags.length);
    this.recs[this.n++] = r;
  }

  /** Write r's kept line to out; false when it has none (the caller encodes r itself). */
  copy(r: FlatRecord, out: ByteSink): boolean {
    if (this.stale || this.n === 0) return false;
    const recs = this.recs;
    let i = this.cursor;
    while (i < this.n && recs[i] !== r) i++;
    if (i === this.n) {
      this.stale = true;
      return false;
    }
    this.cursor = i + 1;
    const e = this.ends;
    const k = 4 * i;
    if (e.get(k) < 0 || e.get(k + 2) !== (r.rules === null ? -1 : r.rules.length) || e.get(k + 3) !== (r.tags === null ? -1 : r.tags.length)) return false;
    this.hits++;
    out.bytes(this.buf.subarray(e.get(k), e.get(k + 1)));
    return true;
  }

  /**
   * The batch is done: forget its lines (records included, so none is kept alive). `wanted`: the
   * consumer will look lines up in the next batch.
   */
  endBatch(wanted: boolean): void {
    if (this.hits > 0) this.missedBatches = 0;
    else if (this.stale) this.missedBatches++;
    this.wanted = wanted && this.missedBatches < MISSES_TO_STOP;
    this.recs.fill(undefined, 0, this.n);
    this.n = 0;
    this.ends.clear();
    this.used = 0;
    this.cursor = 0;
    this.stale = false;
    this.hits = 0;
    this.owner = null;
  }
}

/** The share encoders write to (one consumer at a time), or null. */
export let activeShare: LineShare | null = null;

/** Start sharing lines of encoders with settings `key` with `consumer`; null if another stage already does. */
export function shareLines(key: string, consumer: object): LineShare | null {
  if (activeShare !== null) return null;
  activeShare = new LineShare(key, consumer);
  return activeShare;
}

export function stopSharing(share: LineShare): void {
  if (activeShare === share) activeShare = null;
}
