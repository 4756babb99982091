/**
 * One connected client. The hub offers it every record; what its subscription selects is queued
 * (bounded: when the client does not keep up its events are dropped for it alone and counted) and
 * written in batches as fast as the client's stream takes them. The pipeline never waits for it.
 */
import type { FlatRecord } from '../flatten/flatrecord.js';
import { SfType } from '../sysflow/types.js';
import { compileProjection, type Projector } from './projection.js';
import type { Subscription } from './subscription.js';
import { type Encoded, encodeEvent, type WireBatch } from './wire.js';

/** Where batches go: a gRPC server stream (its serializer is wire.ts's encodeBatch). */
export interface BatchSink {
  /** false: buffered, but write no more until `drain`. */
  write(batch: WireBatch): boolean;
  onDrain(fn: () => void): void;
  /** The stream ends normally (for or limit reached, or the pipeline stopped). */
  end(): void;
}

/** What the hub knows of a record when it offers it; it is encoded once for all subscribers. */
export interface Offer {
  readonly seq: number;
  readonly r: FlatRecord;
  readonly type: Uint8Array;
  encoded(): Encoded;
}

/** Distinct throttle keys remembered; beyond it the oldest go (keys arrive in record-time order). */
const THROTTLE_KEYS = 100_000;

function throttleKey(key: 'NONE' | 'PROCESS' | 'FILE' | 'RULE', r: FlatRecord): string {
  switch (key) {
    case 'PROCESS': {
      const p = r.proc;
      return p ? `${p.oid.hpid}:${p.oid.createTS}` : '';
    }
    case 'FILE': {
      if (r.sfType === SfType.NF || r.sfType === SfType.NE) {
        const n = r.rec as { sip: number; sport: number; dip: number; dport: number; proto: number };
        return `${n.proto}:${n.sip}:${n.sport}:${n.dip}:${n.dport}`;
      }
      return r.file?.path ?? '';
    }
    case 'RULE':
      return r.rules?.map((m) => m.name).join('\0') ?? '';
    default:
      return '';
  }
}

export class Subscriber {
  /** Encoded Event messages. */
  private readonly queue: Uint8Array[] = [];
  private head = 0;
  private dropped = 0;
  private suppressed = 0;
  private accepted = 0;
  private blocked = false;
  private scheduled = false;
  private finishing = false;
  private ended = false;
  private timer: NodeJS.Timeout | null = null;
  private readonly lastByKey = new Map<string, number>();
  private readonly projector: Projector | null;
  /** Totals, for the stage's log line when the client leaves. */
  readonly totals = { sent: 0, dropped: 0, suppressed: 0 };

  constructor(
    private readonly sub: Subscription,
    private readonly sink: BatchSink,
    private readonly host: Uint8Array,
    private readonly queueSize: number,
    private readonly batchSize: number,
    private readonly onEnd: (s: Subscriber) => void,
  ) {
    this.projector = sub.projection ? compileProjection(sub.projection) : null;
    if (sub.forMs > 0) this.timer = setTimeout(() => this.finish(), sub.forMs);
  }

  get active(): boolean {
    return !this.ended && !this.finishing;
  }

  offer(o: Offer): void {
    if (this.finishing || this.ended || !this.sub.matches(o.r)) return;
    const t = this.sub.throttle;
    if (t) {
      const k = throttleKey(t.key, o.r);
      const now = o.r.rec.ts / 1e6;
      const last = this.lastByKey.get(k);
      if (last !== undefined && now - last < t.intervalMs) {
        this.suppressed++;
        this.totals.suppressed++;
        return;
      }
      this.lastByKey.delete(k);
      this.lastByKey.set(k, now);
      if (this.lastByKey.size > THROTTLE_KEYS) this.lastByKey.delete(this.lastByKey.keys().next().value!);
    }
    if (this.queue.length - this.head >= this.queueSize) {
      this.dropped++;
      this.totals.dropped++;
      return;
    }
    const e = o.encoded();
    this.queue.push(this.projector ? encodeEvent(o.seq, o.r.rec.ts, o.r.rec.tsNs, o.type, this.host, this.projector(e.json)) : e.event);
    this.accepted++;
    if (this.sub.limit > 0 && this.accepted >= this.sub.limit) this.finishing = true;
    this.schedule();
  }

  /** End after what is queued was written (for reached, or the pipeline stops). */
  finish(): void {
    if (this.ended) return;
    this.finishing = true;
    this.schedule();
  }

  /** The client went away: nothing more is written, everything is released at once. */
  cancel(): void {
    if (this.ended) return;
    this.ended = true;
    this.release();
  }

  private schedule(): void {
    if (this.scheduled || this.blocked) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    while (!this.ended && !this.blocked) {
      const pending = this.queue.length - this.head;
      if (pending === 0 && this.dropped === 0 && this.suppressed === 0) break;
      const n = Math.min(pending, this.batchSize);
      const events = this.queue.slice(this.head, this.head + n);
      this.head += n;
      if (this.head === this.queue.length) {
        this.queue.length = 0;
        this.head = 0;
      } else if (this.head > 4096 && this.head * 2 > this.queue.length) {
        this.queue.splice(0, this.head);
        this.head = 0;
      }
      const batch: WireBatch = { events, dropped: this.dropped, suppressed: this.suppressed };
      this.dropped = 0;
      this.suppressed = 0;
      this.totals.sent += n;
      if (!this.sink.write(batch)) {
        this.blocked = true;
        this.sink.onDrain(() => {
          this.blocked = false;
          this.flush();
        });
      }
    }
    if (!this.ended && !this.blocked && this.finishing && this.queue.length === this.head) {
      this.ended = true;
      this.sink.end();
      this.release();
    }
  }

  private release(): void {
    if (this.timer) clearTimeout(this.timer);
    this.queue.length = 0;
    this.head = 0;
    this.lastByKey.clear();
    this.onEnd(this);
  }
}
