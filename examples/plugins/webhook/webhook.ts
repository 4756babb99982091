/**
 * `webhook`: a transport for the exporter (`"export": "webhook"`) that POSTs records to an HTTP(S)
 * endpoint in batches: a JSON array of the encoded records (`webhook.body: array`, the default) or
 * one record per line (`ndjson`). It rides on sfprocessor's delivery queue (ctx.deliver), so it
 * gets bounded memory, an optional disk spool (`buffer.dir`), backpressure, and retry with
 * exponential backoff (`retry.max`) without code of its own:
 *
 * - 2xx: delivered;
 * - 408, 429, 5xx, timeouts and connection errors: the batch is sent again after a backoff, before
 *   anything newer (nothing is lost or reordered; the endpoint sees a batch again only if it failed);
 * - other 4xx: the endpoint refuses these records for good; they are counted and logged as failed.
 *
 * Only types are imported, so the compiled webhook.js runs from any -plugdir.
 */
import type { DeliveryLink, Message, TransportPlugin } from 'sfprocessor/plugin';

interface WebhookConfig {
  readonly 'webhook.url': string;
  readonly 'webhook.method': 'POST' | 'PUT';
  readonly 'webhook.body': 'array' | 'ndjson';
  readonly 'webhook.batch': number;
  readonly 'webhook.timeout': number;
  readonly 'webhook.token'?: string;
}

function endpoint(raw: string): URL {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new Error(`attribute 'webhook.url': not a valid URL: '${raw}'`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`attribute 'webhook.url': expected an http:// or https:// URL, got '${raw}'`);
  return u;
}

const OPEN = Buffer.from('[');
const COMMA = Buffer.from(',');
const CLOSE = Buffer.from(']');
const NL = Buffer.from('\n');

/** The request body for a batch: the encoded records as a JSON array or as lines. */
function body(batch: readonly Message[], kind: 'array' | 'ndjson'): Buffer {
  const parts: Buffer[] = [];
  if (kind === 'array') {
    parts.push(OPEN);
    batch.forEach((m, i) => parts.push(...(i ? [COMMA, m.body] : [m.body])));
    parts.push(CLOSE);
  } else for (const m of batch) parts.push(m.body, NL);
  return Buffer.concat(parts);
}

/** Statuses worth trying again: the endpoint may take the same records later. */
const retriable = (status: number) => status === 408 || status === 429 || status >= 500;

export default {
  kind: 'transport',
  name: 'webhook',
  version: '1.0.0',
  description: 'POSTs batches of records to an HTTP(S) endpoint, with retry and backoff',
  config: {
    properties: {
      'webhook.url': { type: 'string', minLength: 1, description: 'endpoint URL (http:// or https://)' },
      'webhook.method': { type: 'string', enum: ['POST', 'PUT'], default: 'POST', description: 'HTTP method' },
      'webhook.body': { type: 'string', enum: ['array', 'ndjson'], default: 'array', description: 'array: a JSON array per request; ndjson: one record per line' },
      'webhook.batch': { type: 'integer', minimum: 1, maximum: 10000, default: 100, description: 'records per request' },
      'webhook.timeout': { type: 'number', exclusiveMinimum: 0, default: 10, description: 'seconds to wait for a response before retrying' },
      'webhook.token': { type: 'string', minLength: 1, description: 'sent as Authorization: Bearer <token>' },
    },
    required: ['webhook.url'],
  },
  check(ctx) {
    endpoint(ctx.config['webhook.url']);
  },
  create(ctx) {
    const c = ctx.config;
    const url = endpoint(c['webhook.url']);
    const headers: Record<string, string> = { 'content-type': c['webhook.body'] === 'array' ? 'application/json' : 'application/x-ndjson' };
    if (c['webhook.token']) headers.authorization = `Bearer ${c['webhook.token']}`;
    const where = `webhook ${url.origin}${url.pathname}`; // no credentials in logs
    const timeoutMs = c['webhook.timeout'] * 1000;
    const link: DeliveryLink = {
      async send(batch) {
        let res: Response;
        try {
          res = await fetch(url, { method: c['webhook.method'], headers, body: body(batch, c['webhook.body']) as Uint8Array<ArrayBuffer>, signal: AbortSignal.timeout(timeoutMs) });
        } catch (e) {
          const err = e as Error & { cause?: { code?: string; message?: string } };
          throw new Error(`${c['webhook.method']} failed: ${err.cause?.code ?? err.cause?.message ?? err.message}`);
        }
        await res.arrayBuffer().catch(() => undefined); // read the answer so the connection is reused
        if (res.ok) return;
        const reason = `HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`;
        if (retriable(res.status)) throw new Error(`${c['webhook.method']} answered ${reason}`);
        return { retry: [], failed: batch.map((m) => ({ m, reason })) };
      },
    };
    return ctx.deliver(() => link, { where, batchSize: c['webhook.batch'] });
  },
} satisfies TransportPlugin<WebhookConfig>;
