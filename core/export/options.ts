/** The delivery attributes every network transport shares, and its queue. */
import { compileSettings, durationOf, settingsOf, sizeOf, type ConfigSchema } from '../pipeline/settings.js';
import type { Attributes } from '../pipeline/types.js';
import type { Logger } from '../log.js';
import { Delivery, type DeliveryConfig, type Link } from './delivery.js';
import { Spool } from './spool.js';
import type { Message, MessageTransport } from './types.js';

/** Attributes every network transport reads (part of each one's schema). */
export const DELIVERY_CONFIG: ConfigSchema['properties'] = {
  'queue.size': { type: 'integer', minimum: 1, default: 10_000, description: 'network transports: messages held in memory before backpressure or spooling' },
  'queue.bytes': {
    type: 'string',
    format: 'size',
    default: '32M',
    description: 'network transports: bytes of messages held in memory before backpressure or spooling, e.g. 16M; whichever of queue.size and queue.bytes is reached first applies',
  },
  'buffer.dir': { type: 'string', description: 'network transports: spool directory; messages beyond queue.size go to disk and survive outages and restarts' },
  'buffer.maxsize': {
    type: 'string',
    format: 'size',
    default: '1G',
    description: 'network transports: spool size cap, e.g. 512M; when full the pipeline is slowed, nothing is dropped; at shutdown what is still in memory (at most queue.bytes) is spooled beyond it',
  },
  'retry.max': { type: 'string', format: 'duration', default: '10s', description: 'network transports: longest pause between reconnects, e.g. 10s' },
  'drain.timeout': { type: 'string', format: 'duration', default: '10s', description: 'network transports: at shutdown, how long to keep delivering before spooling the rest' },
  'stats.interval': { type: 'string', format: 'duration', default: '60s', description: 'network transports: how often to log delivery counters (0: only at exit)' },
};
const DELIVERY = compileSettings({ properties: DELIVERY_CONFIG, additionalProperties: true }, { scope: 'prefixed' });

interface DeliveryAttributes {
  readonly 'queue.size': number;
  readonly 'queue.bytes': string;
  readonly 'buffer.dir'?: string;
  readonly 'buffer.maxsize': string;
  readonly 'retry.max': string;
  readonly 'drain.timeout': string;
  readonly 'stats.interval': string;
}

/** The delivery attributes, validated (`check` uses this alone; nothing is opened). */
export function deliverySettings(attrs: Attributes) {
  const a = settingsOf<DeliveryAttributes>(DELIVERY, attrs);
  return {
    queueLimit: a['queue.size'],
    queueBytes: sizeOf(a['queue.bytes'])!,
    backoffMs: { initial: 200, max: durationOf(a['retry.max'])! },
    drainTimeoutMs: durationOf(a['drain.timeout'])!,
    statsIntervalMs: durationOf(a['stats.interval'])!,
    spoolDir: a['buffer.dir'] || null,
    spoolMaxBytes: sizeOf(a['buffer.maxsize'])!,
  };
}

/** A message transport over a delivery queue built from the attributes (its spool opened). */
export class DeliveryTransport implements MessageTransport {
  readonly messages = true;
  private readonly delivery: Delivery;

  constructor(
    readonly name: string,
    attrs: Attributes,
    opts: { readonly where: string; readonly connect: () => Promise<Link>; readonly log: Logger } & Partial<DeliveryConfig>,
    /** Runs after the queue closed (e.g. closing a client). */
    private readonly after?: () => Promise<void>,
  ) {
    const { spoolDir, spoolMaxBytes, ...settings } = deliverySettings(attrs);
    this.delivery = new Delivery({ ...settings, ...opts, name: opts.where, spool: spoolDir ? new Spool(spoolDir, spoolMaxBytes) : null });
  }

  send(m: Message): void {
    this.delivery.push(m);
  }
  ready(): Promise<void> | null {
    return this.delivery.ready();
  }
  async close(): Promise<void> {
    await this.delivery.close();
    await this.after?.();
  }
  /** Messages neither delivered nor spooled: known once close() returned. */
  undelivered(): number {
    return this.delivery.undelivered;
  }
}
