/**
 * The subscribers of one `subscriptions` stage: every record entering the stage gets the next
 * sequence number and is offered to each subscriber; its JSON is encoded once, and only when some
 * subscriber takes it. Without subscribers a batch costs one addition.
 */
import type { FlatRecord } from '../flatten/flatrecord.js';
import { SF_PROCESSOR_TYPE_CODES } from '../flatten/names.js';
import type { JsonEncoder } from '../export/encoders/json.js';
import { Scratch } from '../util/bytes.js';
import type { Subscriber } from './subscriber.js';

export class Hub {
  private seq = 0;
  private readonly subscribers = new Set<Subscriber>();
  private readonly scratch = new Scratch();

  constructor(private readonly encoder: JsonEncoder) {}

  get size(): number {
    return this.subscribers.size;
  }

  /** The last sequence number given (records seen so far). */
  get last(): number {
    return this.seq;
  }

  add(s: Subscriber): void {
    this.subscribers.add(s);
  }

  remove(s: Subscriber): void {
    this.subscribers.delete(s);
  }

  publish(batch: readonly FlatRecord[]): void {
    if (this.subscribers.size === 0) {
      this.seq += batch.length;
      return;
    }
    for (let i = 0; i < batch.length; i++) {
      const r = batch[i]!;
      let json: string | null = null;
      const offer = {
        seq: ++this.seq,
        r,
        type: SF_PROCESSOR_TYPE_CODES[r.sfType] ?? String(r.sfType),
        json: () => (json ??= this.encode(r)),
      };
      for (const s of this.subscribers) s.offer(offer);
    }
  }

  /** The pipeline stops: every stream ends after what is queued for it. */
  finishAll(): void {
    for (const s of [...this.subscribers]) s.finish();
  }

  private encode(r: FlatRecord): string {
    this.encoder.encode(r, this.scratch);
    const b = this.scratch.take();
    // without the line's newline
    return b.toString('utf8', 0, b.length && b[b.length - 1] === 10 ? b.length - 1 : b.length);
  }
}
