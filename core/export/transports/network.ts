/**
 * What every network transport does the same way (syslog, es): settings checked without connecting
 * under `-test`; a warning when server authentication is switched off; one first contact at start,
 * where a configuration error (bad credentials, a certificate that does not verify) stops the run
 * and anything else is an outage the delivery queue rides out; then delivery through the queue.
 */
import { ConfigError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { Attributes } from '../../pipeline/types.js';
import type { MessageTransport, TransportFactory } from '../types.js';
import { DELIVERY_CONFIG, deliverySettings } from '../options.js';
import type { ConfigSchema } from '../../pipeline/settings.js';

/** One configured target, made before the first contact. */
export interface NetworkTarget {
  /** Tried once at start: throws ConfigError for what the user must fix, anything else for an outage. */
  contact(): Promise<void>;
  /** The outage warning's text for an error of contact() (naming the target). */
  describe(err: unknown): string;
  /** Delivery through the queue, once contact() succeeded or the outage was logged. */
  transport(): MessageTransport;
  /** Released when the start is refused. */
  close?(): Promise<void>;
}

export interface NetworkTransportSpec<S> {
  readonly name: string;
  /** Its own attributes; the delivery queue's are added (DELIVERY_CONFIG). */
  readonly config: ConfigSchema;
  /** Parse and check the transport's attributes (throws ConfigError). */
  settings(attrs: Attributes): S;
  /** The warning for settings that switch server authentication off, or null. */
  insecure(s: S): string | null;
  /** What an outage waits for, in the warning ("server", "cluster"). */
  readonly peer: string;
  open(s: S, attrs: Attributes, log: Logger): Promise<NetworkTarget>;
}

export function networkTransport<S>(spec: NetworkTransportSpec<S>): TransportFactory {
  return {
    name: spec.name,
    config: { properties: { ...spec.config.properties, ...DELIVERY_CONFIG }, additionalProperties: true },
    check(attrs) {
      spec.settings(attrs);
      deliverySettings(attrs);
    },
    async create(attrs, log) {
      const s = spec.settings(attrs);
      const insecure = spec.insecure(s);
      if (insecure) log.warn(insecure);
      const target = await spec.open(s, attrs, log);
      try {
        await target.contact();
      } catch (err) {
        if (err instanceof ConfigError) {
          await target.close?.();
          throw err;
        }
        log.warn(`${target.describe(err)}; records are queued until the ${spec.peer} is reachable`);
      }
      return target.transport();
    },
  };
}
