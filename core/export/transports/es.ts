/**
 * `export: es`: records indexed into Elasticsearch with @elastic/elasticsearch's bulk helper,
 * through the delivery queue (core/export/delivery.ts).
 *
 * Every document is sent with `create` and a stable `_id` (the ECS document id, or a hash of the
 * body for other formats), so a batch sent again after an uncertain failure cannot index twice: ES
 * answers 409 for what it already has, counted as delivered. Items refused with 429 or 5xx are
 * retried with backoff; other 4xx (mapping errors) are counted as failed and logged. Secrets come
 * from attributes or from files (`vault.secrets`, `vault.path`) and are never logged.
 */
import { ConfigError } from '../../errors.js';
import { readFileSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import type { Client } from '@elastic/elasticsearch';
import type { Attributes } from '../../pipeline/types.js';
import type { TransportFactory } from '../types.js';
import type { Message } from '../types.js';
import type { Link, SendResult } from '../delivery.js';
import { DeliveryTransport } from '../options.js';
import { compileSettings, durationOf, readAttributeFile, settingsOf, sizeOf, type ConfigSchema } from '../../pipeline/settings.js';
import { networkTransport } from './network.js';
import { commaList } from '../../util/list.js';

// Loaded on first use: the client and its dependencies take ~170 ms to import, a cost every run
// would pay at start-up, Elasticsearch or not.
type EsModule = typeof import('@elastic/elasticsearch');
let es: EsModule | null = null;
const loadEs = async (): Promise<EsModule> => (es ??= await import('@elastic/elasticsearch'));

export class EsConfigError extends ConfigError {}

interface EsSettings {
  addresses: string[];
  index: string;
  auth: { username: string; password: string } | { apiKey: string } | null;
  concurrency: number;
  flushBytes: number;
  flushIntervalMs: number;
  tls: { ca?: Buffer; rejectUnauthorized: boolean } | null;
  template: string | null;
}

/** The bundled index template for the ecs format. */
export const BUNDLED_TEMPLATE = join(dirname(fileURLToPath(import.meta.url)), '../../../../resources/elasticsearch/sysflow-ecs-template.json');

/** Secrets: the attribute, else (vault.secrets) a file named like the attribute in vault.path. */
function secretReader(attrs: Attributes, c: EsAttributes): (key: string) => string | undefined {
  const vault = c['vault.secrets'];
  const dir = c['vault.path'] || '/run/secrets';
  const encoding = c['vault.encoding'];
  if (vault && !existsSync(dir)) throw new ConfigError(`attribute 'vault.path': directory '${dir}' does not exist`);
  return (key) => {
    if (attrs[key]) return attrs[key];
    if (!vault) return undefined;
    const file = join(dir, key);
    if (!existsSync(file)) return undefined;
    const raw = readFileSync(file, 'utf8').trim();
    return encoding === 'base64' ? Buffer.from(raw, 'base64').toString('utf8').trim() : raw;
  };
}

const CONFIG: ConfigSchema = {
  properties: {
    'es.addresses': { type: 'string', description: 'es: comma-separated cluster URLs' },
    'es.index': { type: 'string', default: 'sysflow', description: 'es: index name; %Y %m %d take the record date (UTC), e.g. sysflow-%Y.%m.%d' },
    'es.username': { type: 'string', description: 'es: basic-auth user (or a vault file es.username)' },
    'es.password': { type: 'string', description: 'es: basic-auth password (or a vault file es.password); never logged' },
    'es.apikey': { type: 'string', description: 'es: API key, instead of user and password (or a vault file es.apikey); never logged' },
    'es.bulk.numWorkers': { type: 'integer', minimum: 0, maximum: 64, default: 2, description: 'es: concurrent bulk requests; 0 means the default' },
    'es.bulk.flushBuffer': { type: 'string', format: 'size', description: 'es: bulk request size, e.g. 5M (default 5000000 bytes)' },
    'es.bulk.flushTimeout': { type: 'string', format: 'duration', default: '30s', description: 'es: longest wait before a partial bulk request is sent' },
    'es.tls.ca': { type: 'string', description: 'es: CA certificate file (PEM) for https clusters with their own CA' },
    'es.tls.verify': { type: 'boolean', default: true, description: 'es: false skips certificate verification (logged; not recommended)' },
    'es.template': { type: 'string', description: 'es: true installs the bundled ECS index template at start; or a template JSON file' },
    'vault.secrets': { type: 'boolean', default: false, description: 'true: read es.username, es.password, es.apikey from files in vault.path' },
    'vault.path': { type: 'string', default: '/run/secrets', description: 'secrets directory' },
    'vault.encoding': { type: 'string', enum: ['none', 'base64'], default: 'none', description: 'none or base64: how secret files are encoded' },
  },
  additionalProperties: true,
};
const SETTINGS = compileSettings(CONFIG, { scope: 'prefixed', prefix: 'es.' });

interface EsAttributes {
  readonly 'es.addresses'?: string;
  readonly 'es.index': string;
  readonly 'es.bulk.numWorkers': number;
  readonly 'es.bulk.flushBuffer'?: string;
  readonly 'es.bulk.flushTimeout': string;
  readonly 'es.tls.ca'?: string;
  readonly 'es.tls.verify': boolean;
  readonly 'es.template'?: string;
  readonly 'vault.secrets': boolean;
  readonly 'vault.path': string;
  readonly 'vault.encoding': 'none' | 'base64';
}

function settings(attrs: Attributes): EsSettings {
  const c = settingsOf<EsAttributes>(SETTINGS, attrs);
  const addresses = commaList(c['es.addresses']);
  if (addresses.length === 0) throw new ConfigError("attribute 'es.addresses': at least one URL is needed, e.g. https://localhost:9200");
  for (const a of addresses) {
    try {
      const u = new URL(a);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error();
    } catch {
      throw new ConfigError(`attribute 'es.addresses': '${a}' is not an http(s) URL`);
    }
  }
  const secret = secretReader(attrs, c);
  const username = secret('es.username');
  const password = secret('es.password');
  const apiKey = secret('es.apikey');
  if ((username === undefined) !== (password === undefined)) throw new ConfigError('es.username and es.password go together (attributes or vault files)');
  if (apiKey !== undefined && username !== undefined) throw new ConfigError('give either es.apikey or es.username/es.password, not both');
  const index = c['es.index'] || 'sysflow';
  if (/[A-Z\\/*?"<>| ,#]/.test(index.replace(/%[Ymd]/g, ''))) throw new ConfigError(`attribute 'es.index': '${index}' is not a valid index name (lowercase, no spaces or \\/*?"<>|,#)`);
  const verify = c['es.tls.verify'];
  const ca = c['es.tls.ca'] ? readAttributeFile('es.tls.ca', c['es.tls.ca']) : undefined;
  const tmpl = c['es.template'];
  return {
    addresses,
    index,
    auth: apiKey !== undefined ? { apiKey } : username !== undefined ? { username, password: password! } : null,
    concurrency: c['es.bulk.numWorkers'] || 2,
    flushBytes: c['es.bulk.flushBuffer'] ? sizeOf(c['es.bulk.flushBuffer'])! : 5_000_000,
    flushIntervalMs: durationOf(c['es.bulk.flushTimeout'])!,
    tls: ca !== undefined || !verify ? { ...(ca ? { ca } : {}), rejectUnauthorized: verify } : null,
    template: tmpl === undefined || tmpl === '' || tmpl === 'false' ? null : tmpl === 'true' ? BUNDLED_TEMPLATE : tmpl,
  };
}

/** `sysflow-%Y.%m.%d` → the index for a record time (UTC), memoised per day. */
function indexNamer(pattern: string): (tsMs: number) => string {
  if (!/%[Ymd]/.test(pattern)) return () => pattern;
  let day = NaN;
  let name = '';
  return (ts) => {
    const d = Math.floor(ts / 86_400_000);
    if (d !== day) {
      day = d;
      const t = new Date(d * 86_400_000);
      const p2 = (n: number) => String(n).padStart(2, '0');
      name = pattern
        .replace(/%Y/g, String(t.getUTCFullYear()))
        .replace(/%m/g, p2(t.getUTCMonth() + 1))
        .replace(/%d/g, p2(t.getUTCDate()));
    }
    return name;
  };
}

interface Doc {
  readonly id: string;
  readonly index: string;
  readonly source: unknown;
}

class EsLink implements Link {
  constructor(
    private readonly client: Client,
    private readonly s: EsSettings,
    private readonly indexFor: (ts: number) => string,
  ) {}

  async send(batch: readonly Message[]): Promise<SendResult> {
    const byId = new Map<string, Message>();
    const docs: Doc[] = [];
    const failed: { m: Message; reason: string }[] = [];
    for (const m of batch) {
      const id = m.id ?? createHash('sha1').update(m.body).digest('base64url');
      let source: unknown;
      try {
        source = JSON.parse(m.body.toString('utf8'));
      } catch {
        failed.push({ m, reason: 'the es transport needs a JSON format (json or ecs)' });
        continue;
      }
      byId.set(id, m);
      docs.push({ id, index: this.indexFor(m.ts), source });
    }
    const retrying = new Set<Message>();
    await this.client.helpers.bulk<Doc>({
      datasource: docs,
      onDocument: (d) => [{ create: { _index: d.index, _id: d.id } }, d.source] as never,
      flushBytes: this.s.flushBytes,
      flushInterval: this.s.flushIntervalMs,
      concurrency: this.s.concurrency,
      // refused items come back to the delivery queue, which retries them with its backoff
      retries: 0,
      onDrop: (drop) => {
        const op = drop.operation as { create?: { _id?: string } };
        const id = op.create?._id ?? '';
        const m = byId.get(id);
        if (m === undefined) return;
        if (drop.status === 409) return; // already indexed (a resend): delivered
        if (drop.status === 429 || drop.status >= 500) retrying.add(m);
        else failed.push({ m, reason: `${drop.status} ${drop.error?.type ?? ''}: ${drop.error?.reason ?? 'refused'} (index ${this.indexFor(m.ts)})` });
      },
    });
    // retried in batch order
    return { retry: retrying.size ? batch.filter((m) => retrying.has(m)) : [], failed };
  }

  async close(): Promise<void> {}
}

function describeError(err: unknown): string {
  if (es !== null && err instanceof es.errors.ResponseError) {
    const body = err.body as { error?: { type?: string; reason?: string } } | undefined;
    return `HTTP ${err.statusCode}${body?.error?.type ? ` ${body.error.type}` : ''}${body?.error?.reason ? `: ${body.error.reason}` : ''}`;
  }
  return (err as Error).message;
}

export const esTransport: TransportFactory = networkTransport({
  name: 'es',
  config: CONFIG,
  settings,
  insecure: (s) => (s.tls && !s.tls.rejectUnauthorized ? 'es: TLS certificate verification is OFF (es.tls.verify=false): the server is not authenticated' : null),
  peer: 'cluster',
  async open(s, attrs, log) {
    const { Client, errors } = await loadEs();
    const client = new Client({
      nodes: s.addresses,
      ...(s.auth ? { auth: s.auth } : {}),
      ...(s.tls ? { tls: s.tls } : {}),
      maxRetries: 2,
      requestTimeout: 60_000,
    });
    const where = `es ${s.addresses.join(',')}`;
    return {
      async contact() {
        try {
          await client.info();
          if (s.template) {
            const body = JSON.parse(readFileSync(s.template, 'utf8')) as Record<string, unknown>;
            await client.indices.putIndexTemplate({ name: 'sysflow-ecs', ...body } as never);
            log.info(`${where}: index template sysflow-ecs installed from ${s.template}`);
          }
        } catch (err) {
          if (err instanceof errors.ResponseError && (err.statusCode === 401 || err.statusCode === 403)) {
            throw new EsConfigError(`${where}: ${describeError(err)} (check es.username/es.password or es.apikey)`);
          }
          if (err instanceof SyntaxError || (err as NodeJS.ErrnoException).code === 'ENOENT') {
            throw new EsConfigError(`attribute 'es.template': cannot use '${s.template}': ${(err as Error).message}`);
          }
          if (/certificate|self.signed|CERT_|altnames/i.test((err as Error).message)) {
            throw new EsConfigError(`${where}: TLS certificate check failed: ${(err as Error).message} (check es.tls.ca)`);
          }
          throw err;
        }
      },
      describe: (err) => `${where}: ${describeError(err)}`,
      transport: () => {
        const link = new EsLink(client, s, indexNamer(s.index));
        return new DeliveryTransport('es', attrs, { where, connect: async () => link, log, batchSize: 2000 }, () => client.close());
      },
      close: () => client.close(),
    };
  },
});
