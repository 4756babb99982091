/**
 * `subscriptions`: serves the live telemetry API (core/telemetry/, docs/subscriptions.md) to any
 * number of clients, each with its own filter, limit, duration, throttle and projection. Placed on a
 * policy engine's output (alert or enrich), usually beside an exporter (`"out"` fans out). It never
 * holds the pipeline back: a subscriber that does not keep up loses events for itself alone.
 */
import { JsonEncoder } from '../export/encoders/json.js';
import type { FlatRecord } from '../flatten/flatrecord.js';
import { compileSettings, modeOf, settingsOf, type ConfigSchema } from '../pipeline/settings.js';
import type { Processor, ProcessorFactory } from '../pipeline/types.js';
import { NO_VOCABULARY } from '../policy/condition.js';
import { loadPolicySet } from '../policy/policyset.js';
import { Hub } from '../telemetry/hub.js';
import { serveTelemetry } from '../telemetry/server.js';
import { JSON_SCHEMA_VERSION } from '../version.js';

export const DEFAULT_TELEMETRY_SOCKET = '/var/run/sfprocessor/telemetry.sock';

const CONFIG: ConfigSchema = {
  properties: {
    socket: { type: 'string', default: DEFAULT_TELEMETRY_SOCKET, description: 'Unix socket the gRPC service listens on' },
    mode: { type: 'string', format: 'octal', default: '0600', description: 'permissions of the socket file, octal' },
    'queue.size': { type: 'integer', minimum: 1, maximum: 10_000_000, default: 10_000, description: 'events queued per subscriber; beyond it its events are dropped (for it alone) and counted' },
    batch: { type: 'integer', minimum: 1, maximum: 100_000, default: 500, description: 'events per batch sent to a subscriber, at most' },
    policies: { type: 'string', description: 'policy file or directory whose macros and lists subscription conditions may use' },
  },
};
const SETTINGS = compileSettings(CONFIG, { scope: 'entry', reserved: ['processor'] });

interface SubscriptionsSettings {
  readonly socket: string;
  readonly mode: string;
  readonly 'queue.size': number;
  readonly batch: number;
  readonly policies?: string;
}

export const subscriptionsFactory: ProcessorFactory = {
  name: 'subscriptions',
  description: 'serves live gRPC subscriptions (filters, limit, for, throttle, projection) to any number of clients',
  inType: 'eventchan',
  outType: null,
  config: CONFIG,
  async create(ctx) {
    const c = settingsOf<SubscriptionsSettings>(SETTINGS, ctx.attrs);
    const vocabulary = c.policies ? loadPolicySet(c.policies).vocabulary : NO_VOCABULARY;
    if (ctx.checkOnly) return { process() {} };
    const hub = new Hub(new JsonEncoder(ctx.attrs.jsonschemaversion ?? String(JSON_SCHEMA_VERSION)));
    const server = await serveTelemetry(hub, { path: c.socket, mode: modeOf(c.mode)!, queueSize: c['queue.size'], batchSize: c.batch, vocabulary, log: ctx.log });
    const proc: Processor<FlatRecord, never> = {
      process: (batch) => hub.publish(batch),
      close: () => server.close(),
    };
    return proc as Processor;
  },
};
