/**
 * The pipeline thread's side of the `subscriptions` stage. Every record entering the stage gets the
 * next sequence number and is shown to each stream's tap (filters, throttle). A record some stream
 * takes is encoded once, as a complete protobuf Event around its JSON; the events of one pipeline
 * batch go to the telemetry thread in one transferred buffer, with the list of which streams take
 * which. The last `historySize` records are held in a ring (references and two numbers each, no
 * per-record object) for subscriptions that start in the past. When an exporter in the same fan-out
 * writes the batch's JSON first, the filters run then (prematch), once per record: the exporter keeps
 * only lines some stream may take, and publish applies the throttles to the matches found.
 */
import type { FlatRecord } from '../flatten/flatrecord.js';
import { SF_PROCESSOR_TYPE_CODES } from '../flatten/names.js';
import { ByteSink } from '../util/bytes.js';
import { IntList } from '../util/intlist.js';
import type { BatchMessage } from './messages.js';
import type { Tap } from './tap.js';
import { writeEventHeaderBefore } from './wire.js';

/** Writes a record's JSON (ending in a newline, which the event leaves out). */
export type JsonWriter = (r: FlatRecord, out: ByteSink) => void;

/** Hands a batch to the telemetry thread, transferring its buffers. */
export type BatchPost = (m: BatchMessage, transfer: ArrayBuffer[]) => void;

/**
 * The events of one batch, written one after another into a buffer of its own (transferred when
 * the batch is posted, and given back once the telemetry thread has copied from it). When an event
 * does not fit, the buffer is doubled.
 */
class EventSink extends ByteSink {
  /** (start, JSON start, end) per event. */
  private readonly offsets = new IntList();
  /** Buffers given back, for the next batches. */
  private readonly spares: ArrayBuffer[] = [];

  constructor(
    private readonly reserve: number,
    private readonly minSize = 1 << 16,
  ) {
    super(0);
    this.buf = Buffer.allocUnsafeSlow(minSize);
  }

  protected emit(): void {
    throw new Error('EventSink never flushes');
  }

  override ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafeSlow(Math.max(2 * this.buf.length, this.pos + n));
    this.buf.copy(bigger, 0, 0, this.pos);
    this.buf = bigger;
  }

  override write(s: string): void {
    this.ensure(s.length * 3);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /** Encode one event: room for its header, the JSON, then the header right before it. */
  add(seq: number, r: FlatRecord, writeJson: JsonWriter, type: Uint8Array, host: Uint8Array): number {
    this.ensure(this.reserve);
    this.pos += this.reserve;
    const jsonStart = this.pos;
    writeJson(r, this);
    const buf = this.buf;
    if (this.pos > jsonStart && buf[this.pos - 1] === 10) this.pos--;
    const start = writeEventHeaderBefore(buf, jsonStart, seq, r.rec.ts, r.rec.tsNs, type, host, this.pos - jsonStart);
    this.offsets.push(start);
    this.offsets.push(jsonStart);
    this.offsets.push(this.pos);
    return this.offsets.length / 3 - 1;
  }

  /** The buffer and offsets so far; the next batch starts in a buffer about as large (a spare if one is). */
  take(): { buf: ArrayBuffer; events: Int32Array } {
    const buf = this.buf.buffer as ArrayBuffer;
    const used = this.pos;
    const size = Math.max(this.minSize, Math.min(1 << 24, used + (used >> 2)));
    const spare = this.spares.findIndex((b) => b.byteLength >= size);
    this.buf = spare < 0 ? Buffer.allocUnsafeSlow(size) : Buffer.from(this.spares.splice(spare, 1)[0]!);
    this.pos = 0;
    return { buf, events: this.offsets.take() };
  }

  /** A buffer the telemetry thread is done with; a few are kept. */
  recycle(buf: ArrayBuffer): void {
    if (this.spares.length < 4) this.spares.push(buf);
  }
}

const TYPES = SF_PROCESSOR_TYPE_CODES.map((t) => Buffer.from(t));
const typeBytes = (r: FlatRecord) => TYPES[r.sfType] ?? Buffer.from(String(r.sfType));

export class Hub {
  private seq = 0;
  private taps: Tap[] = [];
  /** The taps by the record type they can take (most subscriptions name a few types); taps check no types themselves. */
  private byType: Tap[][] = TYPES.map(() => []);
  private readonly sink: EventSink;
  private readonly host: Uint8Array;
  private readonly to = new IntList();
  /** Suppressed counts of this batch, per tap id. */
  private readonly suppressed = new Map<number, number>();
  // the ring: slot i holds a record, its sequence number and its arrival (wall ms)
  private readonly recs: (FlatRecord | undefined)[];
  private readonly seqs: Float64Array;
  private readonly ats: Float64Array;
  /** The next slot to fill; the oldest record once the ring is full. */
  private next = 0;
  // matches worked out while an exporter wrote this batch's JSON (prematch), so publish does not
  // evaluate the filters again: the records in order and, per record, a bit per taker (-1: unknown)
  private preRecs: (FlatRecord | undefined)[] = [];
  private readonly preMasks = new IntList();
  private preN = 0;
  /** The taps the masks refer to (a new array whenever a stream comes or goes). */
  private preTaps: Tap[] | null = null;

  constructor(
    private readonly writeJson: JsonWriter,
    host: string,
    private readonly historySize: number,
    private readonly post: BatchPost,
  ) {
    this.host = Buffer.from(host);
    // the largest header: tags, a 53-bit seq, a 64-bit ts, a type, the host and a 35-bit length
    this.sink = new EventSink(1 + 8 + 1 + 10 + 1 + 1 + 4 + 1 + 5 + this.host.length + 1 + 5);
    this.recs = new Array<FlatRecord | undefined>(historySize);
    this.seqs = new Float64Array(historySize);
    this.ats = new Float64Array(historySize);
  }

  /**
   * A new stream: first the held records of the last `sinceMs` (oldest first), then everything
   * published after. Both happen in this one synchronous step, so nothing comes twice or goes missing.
   */
  add(tap: Tap, sinceMs = 0): void {
    if (sinceMs > 0 && this.historySize > 0) {
      const from = Date.now() - sinceMs;
      for (let i = 0; i < this.historySize; i++) {
        const slot = (this.next + i) % this.historySize;
        const r = this.recs[slot];
        if (r === undefined || this.ats[slot]! < from || !tap.takesType(r.sfType) || !tap.matches(r)) continue;
        this.show(tap, r, this.seqs[slot]!, -1);
      }
      this.flush();
    }
    this.index([...this.taps, tap]);
  }

  remove(id: number): void {
    this.index(this.taps.filter((t) => t.id !== id));
    this.suppressed.delete(id);
  }

  private index(taps: Tap[]): void {
    this.taps = taps;
    this.byType = TYPES.map((_, type) => taps.filter((t) => t.takesType(type)));
  }

  private takersOf(type: number): Tap[] {
    return this.byType[type] ?? this.taps.filter((t) => t.takesType(type));
  }

  /** A batch's buffer back from the telemetry thread. */
  recycle(buf: ArrayBuffer): void {
    this.sink.recycle(buf);
  }

  /** Whether any stream is open (records are then shown to taps). */
  get listening(): boolean {
    return this.taps.length > 0;
  }

  /**
   * Called for each record of the coming batch as an exporter writes its JSON: which takers'
   * filters match r, kept for publish. True if any does (its line is then worth keeping).
   */
  prematch(r: FlatRecord): boolean {
    if (this.preTaps !== this.taps) {
      this.dropPrematches();
      this.preTaps = this.taps;
    }
    const takers = this.takersOf(r.sfType);
    let mask = 0;
    if (takers.length > 30) mask = -1;
    else for (let k = 0; k < takers.length; k++) if (takers[k]!.matches(r)) mask |= 1 << k;
    this.preRecs[this.preN++] = r;
    this.preMasks.push(mask);
    return mask !== 0;
  }

  private dropPrematches(): void {
    this.preRecs.fill(undefined, 0, this.preN);
    this.preN = 0;
    this.preMasks.clear();
    this.preTaps = null;
  }

  publish(batch: readonly FlatRecord[]): void {
    const held = this.historySize > 0;
    const taps = this.taps;
    if (taps.length === 0 && !held) {
      this.seq += batch.length;
      if (this.preN > 0) this.dropPrematches();
      return;
    }
    const at = Date.now();
    // the prematched records are this batch's, in order, when the exporter saw the same records
    let pre = this.preN > 0 && this.preTaps === taps;
    let c = 0;
    for (let i = 0; i < batch.length; i++) {
      const r = batch[i]!;
      const seq = ++this.seq;
      if (held) {
        const slot = this.next;
        this.recs[slot] = r;
        this.seqs[slot] = seq;
        this.ats[slot] = at;
        this.next = (slot + 1) % this.historySize;
      }
      let mask = -1;
      if (pre) {
        let j = c;
        while (j < this.preN && this.preRecs[j] !== r) j++;
        if (j < this.preN) {
          mask = this.preMasks.get(j);
          c = j + 1;
        } else pre = false;
      }
      if (mask === 0) continue;
      const takers = this.takersOf(r.sfType);
      let event = -1;
      for (let k = 0; k < takers.length; k++) {
        const tap = takers[k]!;
        if (mask === -1 ? !tap.matches(r) : (mask & (1 << k)) === 0) continue;
        event = this.show(tap, r, seq, event);
      }
    }
    if (this.preN > 0) this.dropPrematches();
    this.flush();
  }

  /** Show r, which tap's filters take, to it; `event` is r's event index once encoded (-1: not yet). Returns it. */
  private show(tap: Tap, r: FlatRecord, seq: number, event: number): number {
    if (!tap.admit(r)) {
      this.suppressed.set(tap.id, (this.suppressed.get(tap.id) ?? 0) + 1);
      return event;
    }
    if (event < 0) event = this.sink.add(seq, r, this.writeJson, typeBytes(r), this.host);
    this.to.push(tap.id);
    this.to.push(event);
    return event;
  }

  private flush(): void {
    if (this.to.length === 0 && this.suppressed.size === 0) return;
    const { buf, events } = this.sink.take();
    const to = this.to.take();
    const suppressed = new Int32Array(this.suppressed.size * 2);
    let i = 0;
    for (const [id, n] of this.suppressed) {
      suppressed[i++] = id;
      suppressed[i++] = n;
    }
    this.suppressed.clear();
    this.post({ t: 'batch', buf, events, to, suppressed }, [buf, events.buffer as ArrayBuffer, to.buffer as ArrayBuffer, suppressed.buffer as ArrayBuffer]);
  }
}
