/**
 * The subscribers of one `subscriptions` stage: every record entering the stage gets the next
 * sequence number and is offered to each subscriber; its JSON is encoded once, and only when some
 * subscriber takes it. The last `historySize` records are held in a ring (references and two
 * numbers each, no per-record object) for subscriptions that start in the past.
 */
import type { FlatRecord } from '../flatten/flatrecord.js';
import { SF_PROCESSOR_TYPE_CODES } from '../flatten/names.js';
import type { Offer, Subscriber } from './subscriber.js';

export class Hub {
  private seq = 0;
  private readonly subscribers = new Set<Subscriber>();
  // the ring: slot i holds a record, its sequence number, its arrival (wall ms) and its JSON once made
  private readonly recs: (FlatRecord | undefined)[];
  private readonly seqs: Float64Array;
  private readonly ats: Float64Array;
  private readonly jsons: (string | null)[];
  /** The next slot to fill; the oldest record once the ring is full. */
  private next = 0;

  constructor(
    /** A record's JSON text (jsonText). */
    private readonly encode: (r: FlatRecord) => string,
    private readonly historySize = 0,
  ) {
    this.recs = new Array<FlatRecord | undefined>(historySize);
    this.seqs = new Float64Array(historySize);
    this.ats = new Float64Array(historySize);
    this.jsons = new Array<string | null>(historySize).fill(null);
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
        this.jsons[slot] = null;
        this.next = (slot + 1) % this.historySize;
      }
      if (this.subscribers.size === 0) continue;
      const offer = slot >= 0 ? this.heldOffer(slot) : this.liveOffer(seq, r);
      for (const s of this.subscribers) s.offer(offer);
    }
  }

  /** The pipeline stops: every stream ends after what is queued for it. */
  finishAll(): void {
    for (const s of [...this.subscribers]) s.finish();
  }

  private liveOffer(seq: number, r: FlatRecord): Offer {
    let json: string | null = null;
    return { seq, r, type: typeCode(r), json: () => (json ??= this.encode(r)) };
  }

  /** An offer of a held record; its JSON is kept in the ring for the next subscriber that asks. */
  private heldOffer(slot: number): Offer {
    const r = this.recs[slot]!;
    return { seq: this.seqs[slot]!, r, type: typeCode(r), json: () => (this.jsons[slot] ??= this.encode(r)) };
  }
}

const typeCode = (r: FlatRecord) => SF_PROCESSOR_TYPE_CODES[r.sfType] ?? String(r.sfType);
