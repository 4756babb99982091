/**
 * `subscriptions`: serves the live telemetry API (core/telemetry/, docs/subscriptions.md) to any
 * number of clients, each with its own filter, limit, duration, throttle and projection. Placed on a
 * policy engine's output (alert or enrich), usually beside an exporter (`"out"` fans out). It never
 * holds the pipeline back: a subscriber that does not keep up loses events for itself alone.
 */
import { hostname } from 'node:os';
import { ConfigError } from '../errors.js';
import { JsonEncoder } from '../export/encoders/json.js';
import { shareLines, stopSharing } from '../export/encoders/json-share.js';
import type { ByteSink } from '../util/bytes.js';
import type { FlatRecord } from '../flatten/flatrecord.js';
import { compileSettings, modeOf, readAttributeFile, settingsOf, type ConfigSchema } from '../pipeline/settings.js';
import type { Processor, ProcessorFactory } from '../pipeline/types.js';
import { NO_VOCABULARY } from '../policy/condition.js';
import { loadVocabulary } from '../policy/policyset.js';
import { Hub } from '../telemetry/hub.js';
import { serveTelemetry, telemetryThread } from '../telemetry/service.js';
import { JSON_SCHEMA_VERSION } from '../version.js';

export const DEFAULT_TELEMETRY_SOCKET = '/var/run/sfprocessor/telemetry.sock';

const CONFIG: ConfigSchema = {
  properties: {
    socket: { type: 'string', default: DEFAULT_TELEMETRY_SOCKET, description: 'Unix socket the gRPC service listens on' },
    mode: { type: 'string', format: 'octal', default: '0600', description: 'permissions of the socket file, octal' },
    'queue.size': { type: 'integer', minimum: 1, maximum: 10_000_000, default: 10_000, description: 'events queued per subscriber; beyond it its events are dropped (for it alone) and counted' },
    batch: { type: 'integer', minimum: 1, maximum: 100_000, default: 500, description: 'events per batch sent to a subscriber, at most' },
    addr: { type: 'string', description: 'also serve on TCP at host:port, always with TLS (tls.cert and tls.key)' },
    'tls.cert': { type: 'string', description: 'server certificate (PEM file) for addr' },
    'tls.key': { type: 'string', description: 'server private key (PEM file) for addr' },
    'tls.ca': { type: 'string', description: 'CA certificate (PEM file): clients on addr must present a certificate it signed' },
    history: { type: 'integer', minimum: 0, maximum: 10_000_000, default: 10_000, description: 'records held for subscriptions that start in the past (since); 0 keeps none' },
    policies: { type: 'string', description: 'policy file or directory whose macros and lists subscription conditions may use' },
  },
};
const SETTINGS = compileSettings(CONFIG, { scope: 'entry', reserved: ['processor'] });

interface SubscriptionsSettings {
  readonly socket: string;
  readonly mode: string;
  readonly 'queue.size': number;
  readonly batch: number;
  readonly history: number;
  readonly addr?: string;
  readonly 'tls.cert'?: string;
  readonly 'tls.key'?: string;
  readonly 'tls.ca'?: string;
  readonly policies?: string;
}

/** TCP needs TLS: an unauthenticated telemetry API on the network is refused. */
function tcpSettings(c: SubscriptionsSettings) {
  if (!c.addr) {
    for (const k of ['tls.cert', 'tls.key', 'tls.ca'] as const) if (c[k]) throw new ConfigError(`attribute '${k}' applies to the TCP listener; give addr too`);
    return null;
  }
  if (!/^[^\s]+:\d{1,5}$/.test(c.addr)) throw new ConfigError(`attribute 'addr': expected host:port, got '${c.addr}'`);
  if (!c['tls.cert'] || !c['tls.key']) throw new ConfigError("attribute 'addr': TCP is served with TLS only; give tls.cert and tls.key (and tls.ca to require client certificates)");
  return { addr: c.addr, cert: readAttributeFile('tls.cert', c['tls.cert']), key: readAttributeFile('tls.key', c['tls.key']), ca: c['tls.ca'] ? readAttributeFile('tls.ca', c['tls.ca']) : null };
}

export const subscriptionsFactory: ProcessorFactory = {
  name: 'subscriptions',
  description: 'serves live gRPC subscriptions (filters, limit, for, throttle, projection) to any number of clients',
  inType: 'eventchan',
  outType: null,
  config: CONFIG,
  async create(ctx) {
    const c = settingsOf<SubscriptionsSettings>(SETTINGS, ctx.attrs);
    const vocabulary = c.policies ? loadVocabulary(c.policies) : NO_VOCABULARY;
    const tcp = tcpSettings(c);
    if (ctx.checkOnly) return { process() {} };
    const json = new JsonEncoder(ctx.attrs.jsonschemaversion ?? String(JSON_SCHEMA_VERSION));
    const { worker, post } = telemetryThread();
    // lines an exporter's json encoder wrote for the same batch are copied, not encoded again
    const share = shareLines(json.key, json);
    const write = (r: FlatRecord, out: ByteSink) => {
      if (share === null || !share.copy(r, out)) json.encode(r, out);
    };
    const hub = new Hub(write, hostname(), c.history, post);
    if (share) share.wants = (r) => hub.prematch(r);
    const server = await serveTelemetry(worker, hub, { path: c.socket, mode: modeOf(c.mode)!, queueSize: c['queue.size'], batchSize: c.batch, vocabulary, log: ctx.log, ...(tcp ? { tcp } : {}) });
    const proc: Processor<FlatRecord, never> = {
      process: (batch) => {
        hub.publish(batch);
        share?.endBatch(hub.listening);
      },
      close: () => {
        if (share) stopSharing(share);
        return server.close();
      },
    };
    return proc as Processor;
  },
};
