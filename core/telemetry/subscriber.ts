/**
 * One connected client, on the telemetry thread. The hub sends it the events its filters took;
 * they are queued (bounded: when the client does not keep up its events are dropped for it alone
 * and counted) and written in batches as fast as the client's stream takes them.
 */
import { EventQueue, type WireBatch } from './event-queue.js';
import type { StreamSettings } from './messages.js';
import { compileProjection, projected, type Projector } from './projection.js';

/** Where batches go: a gRPC server stream (its serializer is event-queue.ts's serializeBatch). */
export interface BatchSink {
  /** false: buffered, but write no more until `drain`. */
  write(batch: WireBatch): boolean;
  onDrain(fn: () => void): void;
  /** The stream ends normally (for or limit reached, or the pipeline stopped). */
  end(): void;
}

export class Subscriber {
  private readonly queue = new EventQueue();
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

  /** An event its filters took: the Event message src[start, end), whose JSON starts at `jsonAt`. */
  offer(src: Buffer, start: number, jsonAt: number, end: number): void {
    if (this.finishing || this.ended) return;
    if (this.queue.length >= this.queueSize) {
      this.dropped++;
      this.totals.dropped++;
      return;
    }
    const project = this.projector;
    if (project === null) this.queue.push(src, start, end);
    else this.queue.pushWithJson(src, start, jsonAt, end, projected(), project(src, jsonAt, end));
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
      if (this.queue.length === 0 && this.dropped === 0 && this.suppressed === 0) break;
      const batch: WireBatch = this.queue.take(this.batchSize, this.dropped, this.suppressed);
      this.dropped = 0;
      this.suppressed = 0;
      this.totals.sent += batch.count;
      if (!this.sink.write(batch)) {
        this.blocked = true;
        this.sink.onDrain(() => {
          this.blocked = false;
          this.flush();
        });
      }
    }
    if (!this.ended && !this.blocked && this.finishing && this.queue.length === 0) {
      this.ended = true;
      this.sink.end();
      this.release();
    }
  }

  private release(): void {
    if (this.timer) clearTimeout(this.timer);
    this.queue.clear();
    this.onEnd(this);
  }
}
