/** Parsing of exporter attributes shared by the transports: sizes, durations, booleans, delivery. */
import { ConfigError } from '../errors.js';
import type { Attributes } from '../pipeline/types.js';
import type { Logger } from '../log.js';
import { Delivery, type DeliveryConfig, type Link } from './delivery.js';
import { Spool } from './spool.js';
import type { Message, MessageTransport } from './types.js';

const SIZE = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i;
const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/** `10M`, `512k`, `1GiB`, `4096` → bytes. */
export function parseSize(key: string, v: string): number {
  const m = SIZE.exec(v.trim());
  if (!m) throw new ConfigError(`attribute '${key}': expected a size such as 4096, 512K, 10M or 1G, got '${v}'`);
  return Math.floor(Number(m[1]) * UNITS[m[2]!.toLowerCase()]!);
}

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/;
const MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `30s`, `500ms`, `1h`, `2d`, or a bare number of `bareUnit` → milliseconds. */
export function parseDuration(key: string, v: string, bareUnit: 'ms' | 's' = 's'): number {
  const m = DURATION.exec(v.trim());
  if (!m) throw new ConfigError(`attribute '${key}': expected a duration such as 500ms, 30s, 5m, 1h or 1d, got '${v}'`);
  return Number(m[1]) * MS[m[2] ?? bareUnit]!;
}

export function parseBool(key: string, v: string | undefined, dflt: boolean): boolean {
  if (v === undefined || v === '') return dflt;
  const s = v.trim().toLowerCase();
  if (s === 'true' || s === '1' || s === 'yes' || s === 'on') return true;
  if (s === 'false' || s === '0' || s === 'no' || s === 'off') return false;
  throw new ConfigError(`attribute '${key}': expected true or false, got '${v}'`);
}

export function parseInteger(key: string, v: string | undefined, dflt: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`attribute '${key}': expected a whole number from ${min} to ${max}, got '${v}'`);
  return n;
}

/** Attributes every network transport understands (documented once, in the exporter). */
export const DELIVERY_ATTRIBUTES: Readonly<Record<string, string>> = {
  'queue.size': 'network transports: messages held in memory before backpressure or spooling (default 10000)',
  'queue.bytes': 'network transports: bytes of messages held in memory before backpressure or spooling, e.g. 16M (default 32M); whichever of queue.size and queue.bytes is reached first applies',
  'buffer.dir': 'network transports: spool directory; messages beyond queue.size go to disk and survive outages and restarts',
  'buffer.maxsize': 'network transports: spool size cap, e.g. 512M (default 1G); when full the pipeline is slowed, nothing is dropped; at shutdown what is still in memory (at most queue.bytes) is spooled beyond it',
  'retry.max': 'network transports: longest pause between reconnects, e.g. 10s (default 10s)',
  'drain.timeout': 'network transports: at shutdown, how long to keep delivering before spooling the rest (default 10s)',
  'stats.interval': 'network transports: how often to log delivery counters (default 60s; 0: only at exit)',
};

/** The delivery attributes, validated (`check` uses this alone; nothing is opened). */
export function deliverySettings(attrs: Attributes) {
  return {
    queueLimit: parseInteger('queue.size', attrs['queue.size'], 10_000, 1),
    queueBytes: attrs['queue.bytes'] ? parseSize('queue.bytes', attrs['queue.bytes']) : 32 << 20,
    backoffMs: { initial: 200, max: attrs['retry.max'] ? parseDuration('retry.max', attrs['retry.max']) : 10_000 },
    drainTimeoutMs: attrs['drain.timeout'] ? parseDuration('drain.timeout', attrs['drain.timeout']) : 10_000,
    statsIntervalMs: attrs['stats.interval'] ? parseDuration('stats.interval', attrs['stats.interval']) : 60_000,
    spoolDir: attrs['buffer.dir'] || null,
    spoolMaxBytes: attrs['buffer.maxsize'] ? parseSize('buffer.maxsize', attrs['buffer.maxsize']) : 1024 ** 3,
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
