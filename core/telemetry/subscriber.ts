/**
 * One connected client, on the telemetry thread. The hub sends it the events its filters took;
 * they are queued (bounded: when the client does not keep up its events are dropped for it alone
 * and counted) and written in batches as fast as the client's stream takes them.
 */
import type { StreamSettings } from './messages.js';
import { compileProjection, type Projector } from './projection.js';
import { withJson, type WireBatch } from './wire.js';

/** Where batches go: a gRPC server stream (its serializer is wire.ts's encodeBatch). */
export interface BatchSink {
  /** false: buffered, but write no more until `drain`. */
  write(batch: WireBatch): boolean;
  onDrain(fn: () => void): void;
  /** The stream ends normally (for or limit reached, or the pipeline stopped). */
  end(): void;
}

export class Subscriber {
  /** Encoded Event messages. */
  private readonly queue: Buffer[] = [];
  private head = 0;
  private dropped = 0;
  private suppressed = 0;
  private accepted = 0;
  private blocked = false;
  private scheduled = false;
  private finishing = false;
  private ended = false;
  private timer: NodeJS.Timeout | null = null;
  private readonly projector: Projector | null;
  /** Totals, for the log line when the client leaves. */
  readonly totals = { sent: 0, dropped: 0, suppressed: 0 };

  constructor(
    readonly id: number,
    private readonly settings: StreamSettings,
    private readonly sink: BatchSink,
    private readonly queueSize: number,
    private readonly batchSize: number,
    private readonly onEnd: (s: Subscriber) => void,
  ) {
    this.projector = settings.projection ? compileProjection(settings.projection) : null;
    if (settings.forMs > 0) this.timer = setTimeout(() => this.finish(), settings.forMs);
  }

  /** An event its filters took: the Event message, and where in it its JSON starts. */
  offer(event: Buffer, jsonAt: number): void {
    if (this.finishing || this.ended) return;
    if (this.queue.length - this.head >= this.queueSize) {
      this.dropped++;
      this.totals.dropped++;
      return;
    }
    this.queue.push(this.projector ? withJson(event, jsonAt, this.projector(event.subarray(jsonAt))) : event);
    this.accepted++;
    if (this.settings.limit > 0 && this.accepted >= this.settings.limit) this.finishing = true;
    this.schedule();
  }

  /** Events its throttle held back; the next batch reports them. */
  suppress(n: number): void {
    if (this.finishing || this.ended) return;
    this.suppressed += n;
    this.totals.suppressed += n;
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
    this.onEnd(this);
  }
}
