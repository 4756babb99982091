/**
 * The subscribers of one `subscriptions` stage: every record entering the stage gets the next
 * sequence number and is offered to each subscriber. A record some subscriber takes is encoded
 * once, as a complete protobuf Event around its JSON, into large shared chunks; every subscriber
 * queues the same bytes. The last `historySize` records are held in a ring (references and two
 * numbers each, no per-record object) for subscriptions that start in the past.
 */
import type { FlatRecord } from '../flatten/flatrecord.js';
import { SF_PROCESSOR_TYPE_CODES } from '../flatten/names.js';
import { ByteSink } from '../util/bytes.js';
import type { Offer, Subscriber } from './subscriber.js';
import { type Encoded, writeEventHeaderBefore } from './wire.js';

/** Writes a record's JSON (ending in a newline, which the event leaves out). */
export type JsonWriter = (r: FlatRecord, out: ByteSink) => void;

const CHUNK = 1 << 20;

/**
 * Event messages written one after another into chunks; a record never spans two (when one does
 * not fit, what is written of it moves to a new chunk). Queued events keep their chunk alive.
 */
class EventSink extends ByteSink {
  private start = 0;
  private jsonStart = 0;

  constructor(private readonly reserve: number) {
    super(CHUNK);
  }

  protected emit(): void {
    throw new Error('EventSink never flushes');
  }

  override ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const keep = this.pos - this.start;
    const bigger = Buffer.allocUnsafe(Math.max(CHUNK, 2 * (keep + n)));
    this.buf.copy(bigger, 0, this.start, this.pos);
    this.jsonStart -= this.start;
    this.start = 0;
    this.pos = keep;
    this.buf = bigger;
  }

  override write(s: string): void {
    this.ensure(s.length * 3);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /** Room for the event header, then the JSON. */
  begin(): void {
    this.start = this.pos;
    this.ensure(this.reserve);
    this.pos += this.reserve;
    this.jsonStart = this.pos;
  }

  end(seq: number, r: FlatRecord, type: Uint8Array, host: Uint8Array): Encoded {
    const buf = this.buf;
    if (this.pos > this.jsonStart && buf[this.pos - 1] === 10) this.pos--;
    const len = this.pos - this.jsonStart;
    const at = writeEventHeaderBefore(buf, this.jsonStart, seq, r.rec.ts, r.rec.tsNs, type, host, len);
    return { event: buf.subarray(at, this.pos), json: buf.subarray(this.jsonStart, this.pos) };
  }
}

const TYPES = SF_PROCESSOR_TYPE_CODES.map((t) => Buffer.from(t));
const typeBytes = (r: FlatRecord) => TYPES[r.sfType] ?? Buffer.from(String(r.sfType));

export class Hub {
  private seq = 0;
  private readonly subscribers = new Set<Subscriber>();
  private readonly sink: EventSink;
  readonly host: Uint8Array;
  // the ring: slot i holds a record, its sequence number, its arrival (wall ms) and its event once made
  private readonly recs: (FlatRecord | undefined)[];
  private readonly seqs: Float64Array;
  private readonly ats: Float64Array;
  private readonly encoded: (Encoded | null)[];
  /** The next slot to fill; the oldest record once the ring is full. */
  private next = 0;
  private readonly live = new RecordOffer(this);
  private readonly replay = new RecordOffer(this);

  constructor(
    private readonly writeJson: JsonWriter,
    host: string,
    private readonly historySize = 0,
  ) {
    this.host = Buffer.from(host);
    // the largest header: tags, a 53-bit seq, a 64-bit ts, a type, the host and a 35-bit length
    this.sink = new EventSink(1 + 8 + 1 + 10 + 1 + 1 + 4 + 1 + 5 + this.host.length + 1 + 5);
    this.recs = new Array<FlatRecord | undefined>(historySize);
    this.seqs = new Float64Array(historySize);
    this.ats = new Float64Array(historySize);
    this.encoded = new Array<Encoded | null>(historySize).fill(null);
  }

  get size(): number {
    return this.subscribers.size;
  }

  /**
   * A new subscriber: first the held records of the last `sinceMs` (oldest first), then everything
   * published after. Both happen in this one synchronous step, so nothing comes twice or goes missing.
   */
  add(s: Subscriber, sinceMs = 0): void {
    if (sinceMs > 0 && this.historySize > 0) {
      const from = Date.now() - sinceMs;
      for (let i = 0; i < this.historySize; i++) {
        const slot = (this.next + i) % this.historySize;
        if (this.recs[slot] !== undefined && this.ats[slot]! >= from) s.offer(this.heldOffer(slot));
      }
    }
    this.subscribers.add(s);
  }

  remove(s: Subscriber): void {
    this.subscribers.delete(s);
  }

  publish(batch: readonly FlatRecord[]): void {
    const held = this.historySize > 0;
    if (this.subscribers.size === 0 && !held) {
      this.seq += batch.length;
      return;
    }
    const at = Date.now();
    for (let i = 0; i < batch.length; i++) {
      const r = batch[i]!;
      const seq = ++this.seq;
      let slot = -1;
      if (held) {
        slot = this.next;
        this.recs[slot] = r;
        this.seqs[slot] = seq;
        this.ats[slot] = at;
        this.encoded[slot] = null;
        this.next = (slot + 1) % this.historySize;
      }
      if (this.subscribers.size === 0) continue;
      const offer = this.offerOf(this.live, seq, r, slot);
      for (const s of this.subscribers) s.offer(offer);
    }
  }

  /** The pipeline stops: every stream ends after what is queued for it. */
  finishAll(): void {
    for (const s of [...this.subscribers]) s.finish();
  }

  /** The record's event, encoded on the first call for it (kept in the ring when held). */
  encodedOf(o: RecordOffer): Encoded {
    if (o.slot >= 0) {
      const e = this.encoded[o.slot];
      if (e) return e;
    }
    this.sink.begin();
    this.writeJson(o.r, this.sink);
    const e = this.sink.end(o.seq, o.r, o.type, this.host);
    if (o.slot >= 0) this.encoded[o.slot] = e;
    return e;
  }

  private offerOf(o: RecordOffer, seq: number, r: FlatRecord, slot: number): RecordOffer {
    o.seq = seq;
    o.r = r;
    o.type = typeBytes(r);
    o.slot = slot;
    o.e = null;
    return o;
  }

  private heldOffer(slot: number): RecordOffer {
    return this.offerOf(this.replay, this.seqs[slot]!, this.recs[slot]!, slot);
  }
}

/**
 * What the hub knows of a record while it offers it to the subscribers; one object reused for
 * every record (subscribers take what they keep during offer()).
 */
class RecordOffer implements Offer {
  seq = 0;
  r!: FlatRecord;
  type!: Uint8Array;
  /** Its slot in the ring, or -1. */
  slot = -1;
  e: Encoded | null = null;

  constructor(private readonly hub: Hub) {}

  encoded(): Encoded {
    this.e ??= this.hub.encodedOf(this);
    return this.e;
  }
}
