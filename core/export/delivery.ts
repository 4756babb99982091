/**
 * Delivery for network transports: a bounded FIFO per exporter (memory head, optional disk spool
 * tail), one sender loop that ships batches over a Link, reconnects with exponential backoff and
 * retries what failed. When the queue is full, ready() holds the pipeline back (backpressure);
 * nothing is dropped silently. Counters are logged periodically and at close.
 *
 * Links that cannot confirm receipt (syslog over TCP/TLS: the kernel accepting bytes is not the
 * server reading them) keep what they sent during the last `resendWindowMs`; when the connection
 * breaks, that window is sent again. Delivery is at least once; the duplicates this may cause are
 * counted as `resent`.
 *
 * The counters add up: in + earlier = sent + failed + spooled + queued, where `in` counts messages
 * this run was given, `earlier` those an earlier run spooled and this one read back, `spooled` what
 * of either is on disk for the next run, and `failed` what was refused or could not be kept.
 */
import type { Logger } from '../log.js';
import type { Message } from './types.js';
import type { Spool } from './spool.js';
import { Repeats } from './repeats.js';

export interface SendResult {
  /** Temporarily refused (e.g. ES 429 items): sent again after a backoff. */
  readonly retry: readonly Message[];
  /** Permanently refused (e.g. ES mapping errors): counted and logged, not retried. */
  readonly failed: readonly { readonly m: Message; readonly reason: string }[];
  /**
   * Messages already counted as sent that the link has since learnt were lost, without knowing which
   * (UDP: an ICMP port-unreachable reported on the socket): moved from `sent` to `failed`.
   */
  readonly lost?: number;
  /** Why they were lost, for the log. */
  readonly lostReason?: string;
}

/** A send failure that says how far back sent messages may be lost (see Link.onBreak). */
export type UncertainError = Error & { uncertainMs?: number };

export interface Link {
  /** Ship a batch, in order. Rejects when the connection failed: the batch is retried on a new link. */
  send(batch: readonly Message[]): Promise<SendResult>;
  /**
   * Set by Delivery; the link calls it once if the connection breaks while no send is pending.
   * `uncertainMs`: how far back sent messages may be lost (default: the whole resend window).
   */
  onBreak?: (err: Error, uncertainMs?: number) => void;
  close(): Promise<void>;
}

export interface DeliveryConfig {
  readonly name: string;
  readonly connect: () => Promise<Link>;
  readonly log: Logger;
  /** Messages held in memory (default 10,000). */
  readonly queueLimit?: number;
  /** Bytes of message bodies held in memory (default 32 MiB); the first limit reached applies. */
  readonly queueBytes?: number;
  /** Messages per send (default 500). */
  readonly batchSize?: number;
  readonly backoffMs?: { readonly initial: number; readonly max: number };
  readonly spool?: Spool | null;
  /** On close: how long to keep trying before spooling (or counting as failed) what is left. */
  readonly drainTimeoutMs?: number;
  readonly statsIntervalMs?: number;
  /** Datagrams (UDP): there is no connection whose return could be reported. */
  readonly connectionless?: boolean;
  /** > 0 for links without receipts: what was sent this recently is sent again after a break. */
  readonly resendWindowMs?: number;
  /** …but no more than the newest this many bytes (what the connection's buffers can hold). */
  readonly resendMaxBytes?: number;
}

export interface DeliveryCounters {
  /** Messages handed to this queue by the exporter. */
  in: number;
  sent: number;
  retried: number;
  resent: number;
  queued: number;
  spooled: number;
  failed: number;
  reconnects: number;
  /** Messages of an earlier run's spool read back by this one. */
  earlier: number;
}

/** The result of a send that every message passed. */
export const noFailures: SendResult = { retry: [], failed: [] };
/** Spool room kept free before backpressure starts (a message must fit). */
const SPOOL_MARGIN = 256 << 10;

export class Delivery {
  private queue: Message[] = [];
  private head = 0;
  private readonly counters: DeliveryCounters = { in: 0, sent: 0, retried: 0, resent: 0, queued: 0, spooled: 0, failed: 0, reconnects: 0, earlier: 0 };
  private readonly queueLimit: number;
  private readonly queueBytes: number;
  /** Body bytes of the messages in memory (queue[head..]). */
  private memoryBytes = 0;
  /** Body bytes in the resend window. */
  private recentBytes = 0;
  private readonly batchSize: number;
  private readonly backoff: { initial: number; max: number };
  private delay: number;
  private readonly spool: Spool | null;
  private link: Link | null = null;
  private wake: (() => void) | null = null;
  private interrupt: (() => void) | null = null;
  private readyWaiters: (() => void)[] = [];
  private closing = false;
  private stopped = false;
  private loop: Promise<void>;
  private recent: { at: number; m: Message }[] = [];
  private statsTimer: NodeJS.Timeout | null = null;
  private lastError = '';
  private failLogged = 0;
  /** The batch being sent (taken from the head, not yet counted). */
  private inflight: readonly Message[] | null = null;
  /** Set when close() gave up on a send that did not return: the loop then ends without a word. */
  private abandoned = false;
  private readonly warnings: Repeats;
  private readonly failures: Repeats;

  constructor(private readonly opts: DeliveryConfig) {
    this.queueLimit = opts.queueLimit ?? 10_000;
    this.queueBytes = opts.queueBytes ?? 32 << 20;
    this.batchSize = opts.batchSize ?? 500;
    this.backoff = { initial: opts.backoffMs?.initial ?? 200, max: opts.backoffMs?.max ?? 10_000 };
    this.delay = this.backoff.initial;
    this.spool = opts.spool ?? null;
    this.warnings = new Repeats((line) => opts.log.warn(line));
    this.failures = new Repeats((line) => opts.log.error(line));
    if (this.spool && !this.spool.empty) opts.log.info(`${opts.name}: ${this.spool.bytes} bytes spooled by an earlier run in ${this.spool.dir} are sent first`);
    const every = opts.statsIntervalMs ?? 60_000;
    if (every > 0) {
      this.statsTimer = setInterval(() => opts.log.info(`${opts.name}: ${this.describe()}`), every);
      this.statsTimer.unref();
    }
    this.loop = this.run();
  }

  get stats(): Readonly<DeliveryCounters> {
    return { ...this.counters, queued: this.memoryCount };
  }

  private get memoryCount(): number {
    return this.queue.length - this.head;
  }

  /** Queue a message (never blocks; callers honour ready()). */
  push(m: Message): void {
    this.counters.in++;
    // FIFO: once something is on disk, newer messages queue behind it
    if (this.spool && (!this.spool.empty || this.memoryFull) && this.spool.fits(m) && this.spooled(m)) this.counters.spooled++;
    else {
      this.queue.push(m);
      this.memoryBytes += m.body.length;
    }
    this.kick();
  }

  /** Append to the spool; a full filesystem is logged once per episode and the message stays in memory. */
  private spooled(m: Message): boolean {
    if (this.spool!.append(m)) return true;
    this.opts.log.warn(`${this.opts.name}: spool directory ${this.spool!.dir} is full (${this.spool!.diskFull}); holding messages in memory and slowing the pipeline until it drains`);
    return false;
  }

  /** Pending while the queue (and spool) is full. */
  ready(): Promise<void> | null {
    if (!this.full()) return null;
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  /** The memory queue at one of its limits (messages or bytes). */
  private get memoryFull(): boolean {
    return this.memoryCount >= this.queueLimit || this.memoryBytes >= this.queueBytes;
  }

  /** Memory at its limit and, with a spool, the spool (nearly) at its cap too. */
  private full(): boolean {
    if (!this.memoryFull && (this.spool === null || this.spool.empty)) return false;
    if (this.spool === null) return true;
    return this.spool.diskFull !== null || this.spool.bytes + SPOOL_MARGIN > this.spool.maxBytes;
  }

  /** Wake the sender when it waits for messages (not during a backoff). */
  private kick(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  private releaseReady(): void {
    if (this.readyWaiters.length && !this.full()) for (const f of this.readyWaiters.splice(0)) f();
  }

  /** The next backoff pause, each twice the last up to the maximum. */
  private async backOff(): Promise<void> {
    const ms = this.delay;
    this.delay = Math.min(this.backoff.max, ms * 2);
    await this.sleep(ms);
  }

  /** A pause; only stop() cuts it short. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.interrupt = null;
        resolve();
      }, ms);
      this.interrupt = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  /** Take up to batchSize messages from the head (refilling memory from the spool). */
  private take(): Message[] {
    if (this.memoryCount === 0 && this.spool && !this.spool.empty) {
      this.compact();
      // a loop, not push(...): a segment may hold more messages than the argument stack takes
      const loaded = this.spool.shift();
      for (const m of loaded) {
        this.queue.push(m);
        this.memoryBytes += m.body.length;
      }
      const written = this.spool.lastShiftWritten;
      if (written === null) this.counters.earlier += loaded.length;
      else {
        // this run's own messages, back in memory (a damaged segment's missing ones are failed)
        this.counters.spooled -= written;
        this.counters.failed += Math.max(0, written - loaded.length);
      }
      if (this.spool.damage) {
        this.opts.log.warn(`${this.opts.name}: spool ${this.spool.damage}`);
        this.spool.damage = null;
      }
    }
    const end = Math.min(this.queue.length, this.head + this.batchSize);
    const batch = this.queue.slice(this.head, end);
    this.head = end;
    for (const m of batch) this.memoryBytes -= m.body.length;
    if (this.head > 4096 && this.head * 2 > this.queue.length) this.compact();
    return batch;
  }

  /** Put messages back at the head, in order. */
  private unshift(ms: readonly Message[]): void {
    if (ms.length === 0) return;
    this.compact();
    // concat, not unshift(...ms): a resend window can hold more messages than the argument stack takes
    this.queue = ms.concat(this.queue);
    for (const m of ms) this.memoryBytes += m.body.length;
  }

  private compact(): void {
    if (this.head > 0) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  private async run(): Promise<void> {
    while (true) {
      if (this.memoryCount === 0 && (this.spool === null || this.spool.empty)) {
        if (this.closing || this.stopped) return;
        await new Promise<void>((resolve) => (this.wake = resolve));
        continue;
      }
      if (this.stopped) return;
      if (this.link === null) {
        try {
          const link = await this.opts.connect();
          if (this.abandoned) {
            void link.close().catch(() => {});
            return;
          }
          this.link = link;
          this.link.onBreak = (err, ms) => this.broken(err, ms);
          if (this.stopped) return; // close() takes it from here (and closes the link)
        } catch (err) {
          if (this.abandoned || this.stopped) return;
          this.noteError(err as Error);
          this.counters.reconnects++;
          await this.backOff();
          continue;
        }
      }
      const batch = this.take();
      this.inflight = batch;
      let result: SendResult;
      try {
        result = await this.link.send(batch);
      } catch (err) {
        if (this.abandoned) return;
        this.inflight = null;
        if (this.stopped) {
          // shutting down: close() spools or counts the batch
          this.unshift(batch);
          return;
        }
        this.noteError(err as Error);
        this.unshift(batch);
        this.counters.retried += batch.length;
        this.dropLink((err as UncertainError).uncertainMs);
        await this.backOff();
        continue;
      }
      if (this.abandoned) return;
      this.inflight = null;
      const now = Date.now();
      const window = this.opts.resendWindowMs ?? 0;
      if (window > 0) {
        const retried = result.retry.length ? new Set(result.retry) : null;
        for (const m of batch) {
          if (retried?.has(m)) continue;
          this.recent.push({ at: now, m });
          this.recentBytes += m.body.length + 64;
        }
        // older than the window, or beyond what the connection's buffers could hold: no longer kept
        const maxBytes = this.opts.resendMaxBytes ?? Infinity;
        let k = 0;
        while (k < this.recent.length && (now - this.recent[k]!.at > window || this.recentBytes > maxBytes)) this.recentBytes -= this.recent[k++]!.m.body.length + 64;
        if (k) this.recent.splice(0, k);
      }
      const accepted = batch.length - result.retry.length - result.failed.length;
      this.counters.sent += accepted;
      this.counters.failed += result.failed.length;
      for (const f of result.failed) this.logFailure(f.reason);
      if (result.lost) {
        this.counters.sent -= result.lost;
        this.counters.failed += result.lost;
        this.failures.note('lost', `${this.opts.name}: ${result.lostReason ?? `${result.lost} sent messages were lost`}`);
      } else if (accepted > 0 && this.lastError) this.recovered();
      if (result.retry.length) {
        this.counters.retried += result.retry.length;
        this.unshift(result.retry);
        await this.backOff();
      } else this.delay = this.backoff.initial;
      this.releaseReady();
    }
  }

  /** The link broke while idle or between sends: forget it and resend its recent window. */
  private broken(err: Error, uncertainMs?: number): void {
    if (this.link === null) return;
    this.noteError(err);
    this.dropLink(uncertainMs);
    this.kick();
  }

  private dropLink(uncertainMs = Infinity): void {
    const l = this.link;
    this.link = null;
    if (l) {
      l.onBreak = undefined;
      void l.close().catch(() => {});
    }
    if (this.recent.length) {
      const since = Date.now() - uncertainMs;
      let budget = this.opts.resendMaxBytes ?? Infinity;
      let k = this.recent.length;
      while (k > 0 && this.recent[k - 1]!.at >= since && budget > 0) budget -= this.recent[--k]!.m.body.length + 64;
      const again = this.recent.slice(k).map((x) => x.m);
      this.recent = [];
      this.recentBytes = 0;
      this.counters.resent += again.length;
      this.counters.sent -= again.length;
      this.unshift(again);
    }
    this.counters.reconnects++;
  }

  private noteError(err: Error): void {
    let msg = err.message || String(err);
    // links name themselves as Delivery does: say it once
    if (msg.startsWith(`${this.opts.name}: `)) msg = msg.slice(this.opts.name.length + 2);
    this.warnings.note(msg, `${this.opts.name}: ${msg}; retrying with backoff (${this.memoryCount} queued${this.spool ? `, ${this.spool.bytes} bytes spooled` : ''})`);
    this.lastError = msg;
  }

  /** A send went through after errors: the outage is over (a datagram socket has no connection to report). */
  private recovered(): void {
    this.warnings.end();
    this.failures.end();
    if (!this.opts.connectionless) this.opts.log.info(`${this.opts.name}: connected again, delivering (${this.memoryCount} queued)`);
    this.lastError = '';
  }

  private logFailure(reason: string, refusedRecord = true): void {
    if (this.failLogged < 20) this.opts.log.error(`${this.opts.name}: ${refusedRecord ? 'record refused: ' : ''}${reason}`);
    else if (this.failLogged === 20) this.opts.log.error(`${this.opts.name}: more records refused; see the counters at exit`);
    this.failLogged++;
  }

  describe(): string {
    const c = this.stats;
    return `in=${c.in} sent=${c.sent} retried=${c.retried} resent=${c.resent} queued=${c.queued} spooled=${c.spooled}${this.spool ? ` (on disk ${this.spool.bytes} bytes)` : ''} failed=${c.failed} reconnects=${c.reconnects}${this.spool ? ` earlier=${c.earlier}` : ''}`;
  }

  /** Messages neither delivered nor kept for the next run (final once close() returned). */
  get undelivered(): number {
    return this.counters.failed;
  }

  /**
   * Deliver what is queued within the drain timeout; then spool what is left (it is sent by the
   * next run) or, without a spool, count it as failed and say so.
   */
  async close(): Promise<void> {
    this.closing = true;
    this.kick();
    const timeout = this.opts.drainTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([this.loop.then(() => false), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), timeout)))]);
    clearTimeout(timer);
    if (timedOut) {
      this.warnings.end();
      this.failures.end();
      this.stopped = true;
      this.kick();
      this.interrupt?.();
      // a send still out (a cluster that does not answer) is given up: its batch is not delivered
      const ended = await Promise.race([this.loop.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 2000))]);
      if (!ended) this.abandoned = true;
      const rest = this.queue.slice(this.head);
      const left = !ended && this.inflight ? this.inflight.concat(rest) : rest;
      this.inflight = null;
      this.queue = [];
      this.head = 0;
      this.memoryBytes = 0;
      if (this.spool && left.length) {
        // memory is older than the disk tail: it goes into a head segment, sent first next time, beyond
        // buffer.maxsize if need be (the cap bounds the overflow while running; memory is bounded too)
        const kept = this.spool.prepend(left);
        this.counters.spooled += kept;
        this.counters.failed += left.length - kept;
        const why = this.spool.diskFull ? `filesystem full: ${this.spool.diskFull}` : 'spool full';
        this.opts.log.warn(
          `${this.opts.name}: target unreachable at shutdown; ${kept} messages spooled in ${this.spool.dir} for the next run${left.length > kept ? `, ${left.length - kept} not kept (${why}), counted as failed` : ''}`,
        );
      } else if (left.length) {
        this.counters.failed += left.length;
        this.opts.log.error(`${this.opts.name}: target unreachable at shutdown; ${left.length} messages not delivered (set buffer.dir to keep them)`);
      }
    }
    if (this.statsTimer) clearInterval(this.statsTimer);
    this.warnings.end();
    this.failures.end();
    this.spool?.close();
    const l = this.link;
    this.link = null;
    if (l) await l.close().catch(() => {});
    this.opts.log.info(`${this.opts.name}: ${this.describe()}`);
  }
}
